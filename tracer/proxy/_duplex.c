/* The relay's fast path in C: tracer/proxy/relay.py's duplex loop without the interpreter.
 *
 * One call waits in poll(2) on a connection's two sockets, reads a chunk from whichever is
 * ready, writes it on at once (MSG_DONTWAIT) and appends its framed, time-stamped copy to the
 * caller's `held` buffer, over and over, with the GIL released. It returns to Python only when
 * Python has something to do: the held copies are due (HOLD_NS after the first, or HOLD_BYTES of
 * them) and must go to the channel under the Forwarder's lock; a side ended or failed; or a write
 * could not complete at once, or a read was bulk, and the connection leaves duplex mode. Per
 * exchange that is socat's work, poll + recv + send per direction, and nothing else: the
 * interpreter's ~15 µs per turn of the loop (bench/proxy.md) are gone from the forwarded path.
 *
 * It does exactly what Relay.duplex (the Python loop) does, event for event, and the same tests run
 * against both (tests/unit/test_proxy_server.py). Built by setuptools as an optional extension:
 * where it could not be built, relay.py uses the Python loop.
 *
 * run(client_fd, daemon_fd, client_tag, daemon_tag, conn, buffer, held, held_len, due,
 *     hold_ns, hold_bytes, client_bulk, daemon_bulk)
 *   -> (event, side, n, sent, t, err, held_len, due)
 * side is 0 (client) or 1 (daemon); n, sent, t the last chunk's size, how much of it was
 * written and when it was read (CLOCK_MONOTONIC ns); err an errno. `held` must have room for
 * hold_bytes + one item head + len(buffer).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { FLUSH = 1, END = 2, READ_ERROR = 3, WRITE_ERROR = 4, SPLIT = 5 };
#define ITEM_HEAD 17 /* relay.ITEM, "<BIQI": kind, connection id, time, payload size */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_le(unsigned char *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Append one framed copy (ITEM head, then the bytes) to held. */
static Py_ssize_t hold(unsigned char *held, Py_ssize_t len, unsigned int tag, unsigned int conn,
                       int64_t t, const unsigned char *data, Py_ssize_t n)
{
    unsigned char *p = held + len;
    put_le(p, tag, 1);
    put_le(p + 1, conn, 4);
    put_le(p + 5, (uint64_t)t, 8);
    put_le(p + 13, (uint64_t)n, 4);
    memcpy(p + ITEM_HEAD, data, (size_t)n);
    return len + ITEM_HEAD + n;
}

static PyObject *run(PyObject *self, PyObject *args)
{
    int fds[2];
    unsigned int tags[2], conn;
    Py_buffer buf, held;
    Py_ssize_t held_len, hold_bytes, bulk[2];
    long long due, hold_ns;
    (void)self;
    if (!PyArg_ParseTuple(args, "iiIIIw*w*nLLnnn", &fds[0], &fds[1], &tags[0], &tags[1], &conn,
                          &buf, &held, &held_len, &due, &hold_ns, &hold_bytes, &bulk[0],
                          &bulk[1]))
        return NULL;
    if (held_len < 0 || held_len >= hold_bytes ||
        held.len < hold_bytes + ITEM_HEAD + buf.len || buf.len == 0) {
        PyBuffer_Release(&buf);
        PyBuffer_Release(&held);
        PyErr_SetString(PyExc_ValueError, "held must have room for hold_bytes + a chunk");
        return NULL;
    }
    unsigned char *data = buf.buf, *copies = held.buf;
    int event = 0, side = 0, err = 0;
    Py_ssize_t n = 0, sent = 0;
    int64_t t = 0;
    struct pollfd ready[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};

    Py_BEGIN_ALLOW_THREADS
    while (!event) {
        int timeout = -1; /* wait no longer than the held copies may */
        if (held_len) {
            int64_t left = due - now_ns();
            if (left <= 0) {
                event = FLUSH;
                break;
            }
            timeout = (int)((left + 999999) / 1000000);
        }
        int count = poll(ready, 2, timeout);
        if (count < 0) {
            if (errno == EINTR)
                continue;
            event = READ_ERROR; /* never seen: poll on two valid descriptors */
            err = errno;
            break;
        }
        if (count == 0) {
            event = FLUSH;
            break;
        }
        for (int i = 0; i < 2 && !event; i++) {
            if (!ready[i].revents)
                continue;
            ssize_t got = recv(fds[i], data, (size_t)buf.len, 0);
            side = i;
            if (got < 0) {
                if (errno == EINTR || errno == EAGAIN)
                    continue;
                event = READ_ERROR;
                err = errno;
                break;
            }
            if (got == 0) {
                event = END;
                break;
            }
            n = got;
            t = now_ns();
            ssize_t wrote = send(fds[1 - i], data, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (wrote < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    err = errno;
                    held_len = hold(copies, held_len, tags[i], conn, t, data, n);
                    event = WRITE_ERROR;
                    break;
                }
                wrote = 0;
            }
            sent = wrote;
            if (sent < n || n >= bulk[i]) { /* from here on, one thread per direction */
                event = SPLIT;
                break;
            }
            if (!held_len)
                due = t + hold_ns;
            held_len = hold(copies, held_len, tags[i], conn, t, data, n);
            if (t >= due || held_len >= hold_bytes)
                event = FLUSH;
        }
    }
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&buf);
    PyBuffer_Release(&held);
    return Py_BuildValue("iinnLinL", event, side, n, sent, (long long)t, err, held_len,
                         (long long)due);
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS, "Relay both directions until Python has something to do."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_duplex",
    .m_doc = "The relay's duplex loop in C (see relay.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__duplex(void) { return PyModule_Create(&module); }
