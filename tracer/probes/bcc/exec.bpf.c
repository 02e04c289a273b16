// dockertrace: processes, namespace and cgroup set-up, and the files and bytes that cross the
// engine's boundaries, of the processes under trace (bcc, tracepoints only).
//
// Only tracepoint arguments and user memory are read (never kernel struct fields), so the program
// does not depend on the running kernel's layout: the records' structs below are generated from
// the kernel's own tracefs format files. Placeholders in UPPER_CASE are filled in by
// tracer/probes/bcc/probe.py; `dockertrace probe --dump-bpf` prints the result. Each function is
// attached to the tracepoints its `// attach:` lines name (plain functions compile much faster
// than bcc's TRACEPOINT_PROBE macro).
//
// Filtering happens here, not in Python: `dt_tracked` holds the thread-group ids under trace,
// seeded from user space (dockerd, containerd, the client); a fork of a tracked process tracks
// the child; the exit of the last thread untracks it. Nothing else reaches the ring buffer.
// Narrower still: writes only of the container's own processes (`dt_container`: what
// runc:[2:INIT] exec'd, and their children) to stdout/stderr, and reads and writes only of the
// stdio FIFOs (`dt_fds`); opens and renames only under the directories that __PATH_TESTS__
// names. The functions for those boundaries are in boundary.bpf.c, compiled after this file.

#define ARGC_MAX __ARGC_MAX__           // argv entries copied per exec
#define ARG_LEN __ARG_LEN__             // bytes per argv entry, including its NUL
#define STR_LEN __STR_LEN__             // bytes per path (filename, mount source/target, socket path)
#define FSTYPE_LEN 32                   // bytes of a mount's filesystem type
#define DATA_LEN __DATA_LEN__           // bytes of a mount's option string (overlay's lowerdir=...)
#define EXCERPT_LEN 64                  // bytes of a write's or read's buffer copied
#define IO_MAX __IO_MAX__               // writes/reads reported per process and fd: a chatty
                                        // container must not flood the ring buffer
#define O_PATH_OR_FIFO 2                // openat purpose: a stdio FIFO (or a /proc/self/fd reopen)
#define SUN_PATH_LEN 108                // sizeof(((struct sockaddr_un *)0)->sun_path)
#define AF_UNIX 1
#define CLONE_THREAD 0x00010000
#define NR_EXECVEAT __NR_EXECVEAT__     // execveat's syscall number on this architecture
// How memory is read. bcc 0.26 spends about 0.1 s of compile time on each call site of
// bpf_probe_read_user/_kernel(_str); where the kernel has the generic bpf_probe_read(_str),
// which tells user from kernel addresses by itself (x86_64), bcc_probe.py uses that instead.
#define read_user __READ_USER__
#define read_user_str __READ_USER_STR__
#define read_kernel __READ_KERNEL__
#define read_kernel_str __READ_KERNEL_STR__
#define SELF_TGID __SELF_TGID__         // the tracer itself
#define FATAL_SIGNALS __FATAL_SIGNALS__ // signals whose default action ends the process (bit n = signal n)

enum kind {
    EV_EXEC = 1,       // sched_process_exec, argv copied at sys_enter_execve(at)
    EV_FORK = 2,       // sched_process_fork of a new process (threads are not reported)
    EV_EXIT = 3,       // sched_process_exit of the last thread of a process
    EV_CLONE = 4,      // clone(): enter + exit merged
    EV_CLONE3 = 5,     // clone3(): flags read from the caller's struct clone_args
    EV_UNSHARE = 6,    // unshare()
    EV_SETNS = 7,      // setns()
    EV_MOUNT = 8,      // mount()
    EV_PIVOT_ROOT = 9, // pivot_root()
    EV_CONNECT = 10,   // connect() to an AF_UNIX socket
    EV_CGROUP_MKDIR = 11,  // cgroup:cgroup_mkdir (v1: once per hierarchy; v2: root 0)
    EV_CGROUP_ATTACH = 12, // cgroup:cgroup_attach_task
    EV_OPENAT = 13,    // openat() of a path under the watched directories
    EV_RENAME = 14,    // renameat(2)() to a path under the watched directories (sent at enter)
    EV_WRITE = 15,     // write() of a container process to fd 1/2, or of anyone to a stdio FIFO
    EV_READ = 16,      // read() from a stdio FIFO that returned bytes
};

enum exit_how {
    EXIT_UNKNOWN = 0,  // neither exit_group() nor a fatal signal was seen
    EXIT_CALLED = 1,   // exit_group(code)
    EXIT_SIGNALED = 2, // a signal whose default action kills the process
};

struct event {
    u64 ts_ns;                     // bpf_ktime_get_ns() (CLOCK_MONOTONIC): at sys_enter for syscalls
                                   // and exec, when sent for fork and exit, at sys_exit for openat
    u32 kind;                      // enum kind
    u32 pid;                       // thread-group id of the caller (the "pid" users know)
    u32 tid;                       // the calling thread's id
    u32 argc;                      // exec: argv entries copied into args; write/read: bytes in s0
    s64 ret;                       // syscall return value (clone/clone3: the child's pid in the parent);
                                   // cgroup: the cgroup's id
    u64 a0;                        // clone/clone3/unshare/mount/openat: flags; setns/write/read: fd;
                                   // connect: family; exit: exit code; fork: child pid; cgroup: root
    u64 a1;                        // setns: nstype; connect: addrlen; exit: signal; cgroup: level;
                                   // fork: flags of the clone call that made it (0 for fork()/vfork())
                                   // write: bytes asked; read: the buffer, then the bytes read
    u32 how;                       // exit: enum exit_how; exec: 1 if argv was cut (count or length);
                                   // mount: 1 if data was cut; cgroup attach: the pid attached;
                                   // openat: its purpose (O_PATH_OR_FIFO or 1); write: 1 if to a FIFO
    u32 args_size;                 // exec: bytes of args in use (argc slots); mount: bytes of data
    char comm[16];                 // the caller's comm (exec: the new one)
    char comm2[16];                // exec: the comm before exec; fork: the child's comm;
                                   // cgroup attach: the attached task's comm
    char s0[STR_LEN];              // exec: filename; mount: source; pivot_root: new_root;
                                   // connect: sun_path, raw (abstract names start with NUL);
                                   // cgroup: path; openat: filename; rename: newname;
                                   // write/read: the first EXCERPT_LEN bytes of the buffer
    char s1[STR_LEN];              // mount: target; pivot_root: put_old; rename: oldname
    char s2[FSTYPE_LEN];           // mount: filesystem type
    char args[ARGC_MAX * ARG_LEN]; // exec: argv entry i at i * ARG_LEN, NUL-terminated;
                                   // mount: its data (the option string), DATA_LEN at most
};

// A syscalls:sys_enter_* record as a BPF program sees it (the kernel's struct syscall_tp_t).
struct syscall_enter {
    u64 common;     // for BPF the kernel puts a pt_regs pointer here; not readable
    s32 syscall_nr; // __syscall_nr
    u32 pad;        // the arguments start 8-byte aligned
    u64 args[6];    // the syscall's arguments in order, each widened to 8 bytes
};

// A syscalls:sys_exit_* record as a BPF program sees it.
struct syscall_exit {
    u64 common;     // as above
    s32 syscall_nr; // __syscall_nr
    u32 pad;        // alignment
    s64 ret;        // the return value
};

// sched and signal records, from events/*/*/format on this kernel:
__TRACEPOINT_STRUCTS__

struct exit_info {
    u32 how;  // enum exit_how
    u32 code; // exit_group()'s code, or the killing signal
};

// Map names start with dt_ so that `dockertrace probe --check-clean` can tell ours from others'.
BPF_HASH(dt_tracked, u32, u8, __MAX_TRACKED__);                           // tgid -> 1
BPF_TABLE("lru_hash", u32, struct event, dt_pending, __MAX_PENDING__);    // tid -> event being built
BPF_HASH(dt_exits, u32, struct exit_info, __MAX_TRACKED__);               // tgid -> how it is ending
BPF_ARRAY(dt_empty, struct event, 1);                                     // an all-zero event, never written
BPF_PERCPU_ARRAY(dt_scratch, struct event, 1);                            // fork/exit events, sent at once
BPF_PERCPU_ARRAY(dt_lost, u64, 1);                                        // ring buffer full: events dropped
BPF_RINGBUF_OUTPUT(dt_events, __RINGBUF_PAGES__);
BPF_HASH(dt_container, u32, u8, __MAX_TRACKED__);                         // tgid -> 1: the container's own
BPF_TABLE("lru_hash", u64, u8, dt_fds, 4096);                            // tgid << 32 | fd -> 1: a stdio FIFO
BPF_PERCPU_ARRAY(dt_path, struct { char s[STR_LEN]; }, 1);                // a path read before it is wanted
BPF_TABLE("lru_hash", u64, u32, dt_io, 4096);                            // tgid << 32 | fd -> writes/reads sent

static __always_inline int is_tracked(u32 tgid)
{
    __TRACK_FILTER__
}

// Start an event for this thread in `dt_pending`; sys_exit (or sched_process_exec) completes it.
static __always_inline struct event *begin(u32 kind)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32, tid = (u32)id, zero = 0;
    if (!is_tracked(tgid))
        return 0;
    struct event *blank = dt_empty.lookup(&zero);
    if (!blank)
        return 0;
    dt_pending.update(&tid, blank);
    struct event *ev = dt_pending.lookup(&tid);
    if (!ev)
        return 0;
    ev->ts_ns = bpf_ktime_get_ns();
    ev->kind = kind;
    ev->pid = tgid;
    ev->tid = tid;
    bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
    return ev;
}

// An event sent at once (fork, exit): built in this CPU's scratch slot, header fields reset.
static __always_inline struct event *now(u32 kind, u32 tgid, u32 tid)
{
    u32 zero = 0;
    struct event *ev = dt_scratch.lookup(&zero);
    if (!ev)
        return 0;
    ev->ts_ns = bpf_ktime_get_ns();
    ev->kind = kind;
    ev->pid = tgid;
    ev->tid = tid;
    ev->argc = 0;
    ev->ret = 0;
    ev->a0 = 0;
    ev->a1 = 0;
    ev->how = 0;
    ev->args_size = 0;
    ev->comm2[0] = 0;
    ev->s0[0] = 0;
    ev->s1[0] = 0;
    ev->s2[0] = 0;
    bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
    return ev;
}

static __always_inline void submit(struct event *ev)
{
    // Only exec events carry argv, and mounts their data; the others stop before it.
    int err = ev->kind == EV_EXEC    ? dt_events.ringbuf_output(ev, sizeof(*ev), 0)
              : ev->kind == EV_MOUNT ? dt_events.ringbuf_output(ev, offsetof(struct event, args) + DATA_LEN, 0)
                                     : dt_events.ringbuf_output(ev, offsetof(struct event, args), 0);
    if (err) {
        u32 zero = 0;
        u64 *n = dt_lost.lookup(&zero);
        if (n)
            (*n)++;
    }
}

// Complete this thread's pending event with the syscall's return value and send it.
static __always_inline int finish(long ret)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct event *ev = dt_pending.lookup(&tid);
    if (!ev)
        return 0;
    // The tracer's own syscalls (its threads, its sockets) are not the story: its forks are.
    if (ev->kind != EV_EXEC && ev->pid != SELF_TGID) {
        ev->ret = ret;
        submit(ev);
    }
    // An exec left here failed (a successful one was sent by sched_process_exec): drop it.
    dt_pending.delete(&tid);
    return 0;
}

// Entry i goes to its own slot at i * ARG_LEN: constant offsets, which the verifier checks in
// a few ms, where entries packed at a running offset took it a quarter of a second at load.
static __always_inline void copy_argv(struct event *ev, const char *const *argv)
{
    for (int i = 0; i < ARGC_MAX; i++) {
        const char *arg = 0;
        if (read_user(&arg, sizeof(arg), &argv[i]) || !arg)
            return;
        int n = read_user_str(&ev->args[i * ARG_LEN], ARG_LEN, arg);
        if (n <= 0)
            return;
        if (n == ARG_LEN)
            ev->how = 1;
        ev->argc++;
        ev->args_size = (i + 1) * ARG_LEN;
    }
    const char *more = 0;
    if (!read_user(&more, sizeof(more), &argv[ARGC_MAX]) && more)
        ev->how = 1;
}

// One copy of the argv loop for both; the syscall number tells which one fired.
// attach: syscalls:sys_enter_execve
// attach: syscalls:sys_enter_execveat
int on_enter_exec(struct syscall_enter *ctx)
{
    struct event *ev = begin(EV_EXEC);
    if (ev) {
        bpf_get_current_comm(&ev->comm2, sizeof(ev->comm2));
        // execve(filename, argv, envp); execveat(dirfd, filename, argv, envp, flags).
        // The verifier allows only fixed offsets into the record, so read the slot with a helper.
        u64 argv = 0;
        int slot = ctx->syscall_nr == NR_EXECVEAT ? 2 : 1;
        read_kernel(&argv, sizeof(argv), &ctx->args[slot]);
        copy_argv(ev, (const char *const *)argv);
    }
    return 0;
}

// attach: sched:sched_process_exec
int on_exec(struct tp_sched_process_exec *args)
{
    // old_pid: the thread that called execve (a non-leader thread takes over the tgid).
    u32 old_tid = args->old_pid, zero = 0;
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_tracked(tgid))
        return 0;
    struct event *ev = dt_pending.lookup(&old_tid);
    if (!ev) {
        struct event *blank = dt_empty.lookup(&zero);
        if (!blank)
            return 0;
        dt_pending.update(&old_tid, blank);
        ev = dt_pending.lookup(&old_tid);
        if (!ev)
            return 0;
        ev->ts_ns = bpf_ktime_get_ns();
    }
    ev->kind = EV_EXEC;
    ev->pid = tgid;
    ev->tid = args->pid;
    u64 *old = (u64 *)ev->comm2; // the comm before exec, as two words
    if (__IS_RUNC_INIT__) {      // runc's last stage exec'd the container's program
        u8 one = 1;
        dt_container.update(&tgid, &one);
    }
    bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
    unsigned short off = args->filename & 0xFFFF; // __data_loc: offset in the low half
    read_kernel_str(&ev->s0, sizeof(ev->s0), (char *)args + off);
    submit(ev);
    dt_pending.delete(&old_tid);
    dt_exits.delete(&tgid); // exec killed the other threads (SIGKILL): that was not the process ending
    return 0;
}

// attach: sched:sched_process_fork
int on_fork(struct tp_sched_process_fork *args)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32, tid = (u32)id, child = args->child_pid;
    if (!is_tracked(tgid))
        return 0;
    u64 flags = 0;
    struct event *call = dt_pending.lookup(&tid);
    if (call && (call->kind == EV_CLONE || call->kind == EV_CLONE3))
        flags = call->a0;
    if (flags & CLONE_THREAD)
        return 0; // a new thread of a tracked process: its tgid is tracked already
    u8 one = 1;
    dt_tracked.update(&child, &one);
    if (dt_container.lookup(&tgid))
        dt_container.update(&child, &one);
    struct event *ev = now(EV_FORK, tgid, tid);
    if (!ev)
        return 0;
    ev->a0 = child;
    ev->a1 = flags;
    unsigned short off = args->child_comm & 0xFFFF;
    read_kernel_str(&ev->comm2, sizeof(ev->comm2), (char *)args + off);
    submit(ev);
    return 0;
}

// attach: syscalls:sys_enter_exit_group
int on_enter_exit_group(struct syscall_enter *ctx)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_tracked(tgid))
        return 0;
    struct exit_info info = {.how = EXIT_CALLED, .code = ctx->args[0] & 0xff}; // exit_group(code)
    dt_exits.insert(&tgid, &info); // the first reason wins: exit_group() then SIGKILLs the other threads
    return 0;
}

// attach: signal:signal_deliver
int on_signal(struct tp_signal_deliver *args)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    int sig = args->sig;
    // sa_handler 0 is SIG_DFL: the default action of these signals ends the process.
    if (!is_tracked(tgid) || args->sa_handler != 0 || sig <= 0 || sig > 31 ||
        !((FATAL_SIGNALS >> sig) & 1))
        return 0;
    struct exit_info info = {.how = EXIT_SIGNALED, .code = sig};
    dt_exits.insert(&tgid, &info);
    return 0;
}

// attach: sched:sched_process_exit
int on_exit(struct tp_sched_process_exit *args)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32, tid = (u32)id;
    if (!args->group_dead || !is_tracked(tgid))
        return 0;
    struct event *ev = now(EV_EXIT, tgid, tid);
    if (ev) {
        struct exit_info *info = dt_exits.lookup(&tgid);
        if (info) {
            ev->how = info->how;
            if (info->how == EXIT_CALLED)
                ev->a0 = info->code;
            else
                ev->a1 = info->code;
        }
        submit(ev);
    }
    dt_exits.delete(&tgid);
    dt_tracked.delete(&tgid);
    dt_container.delete(&tgid);
    return 0;
}

// attach: syscalls:sys_enter_clone
int on_enter_clone(struct syscall_enter *ctx)
{
    struct event *ev = begin(EV_CLONE);
    if (ev)
        ev->a0 = ctx->args[0]; // clone(flags, stack, parent_tid, child_tid, tls): flags first
    return 0;
}

// attach: syscalls:sys_enter_clone3
int on_enter_clone3(struct syscall_enter *ctx)
{
    struct event *ev = begin(EV_CLONE3);
    if (ev) // clone3(struct clone_args *uargs, size_t size): clone_args.flags comes first
        read_user(&ev->a0, sizeof(ev->a0), (void *)ctx->args[0]);
    return 0;
}

// attach: syscalls:sys_enter_unshare
int on_enter_unshare(struct syscall_enter *ctx)
{
    struct event *ev = begin(EV_UNSHARE);
    if (ev)
        ev->a0 = ctx->args[0]; // unshare(flags)
    return 0;
}

// attach: syscalls:sys_enter_setns
int on_enter_setns(struct syscall_enter *ctx)
{
    struct event *ev = begin(EV_SETNS);
    if (ev) { // setns(fd, nstype)
        ev->a0 = ctx->args[0];
        ev->a1 = ctx->args[1];
    }
    return 0;
}

// attach: syscalls:sys_enter_mount
int on_enter_mount(struct syscall_enter *ctx)
{
    struct event *ev = begin(EV_MOUNT);
    if (ev) { // mount(source, target, fstype, flags, data)
        ev->a0 = ctx->args[3];
        read_user_str(&ev->s0, sizeof(ev->s0), (void *)ctx->args[0]);
        read_user_str(&ev->s1, sizeof(ev->s1), (void *)ctx->args[1]);
        read_user_str(&ev->s2, sizeof(ev->s2), (void *)ctx->args[2]);
        int n = ctx->args[4] ? read_user_str(&ev->args[0], DATA_LEN, (void *)ctx->args[4]) : 0;
        if (n > 0) {
            ev->args_size = n;
            ev->how = n == DATA_LEN; // cut: the string did not end within DATA_LEN
        }
    }
    return 0;
}

// attach: syscalls:sys_enter_pivot_root
int on_enter_pivot_root(struct syscall_enter *ctx)
{
    struct event *ev = begin(EV_PIVOT_ROOT);
    if (ev) { // pivot_root(new_root, put_old)
        read_user_str(&ev->s0, sizeof(ev->s0), (void *)ctx->args[0]);
        read_user_str(&ev->s1, sizeof(ev->s1), (void *)ctx->args[1]);
    }
    return 0;
}

// attach: syscalls:sys_enter_connect
int on_enter_connect(struct syscall_enter *ctx)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_tracked(tgid))
        return 0;
    // connect(fd, struct sockaddr *addr, addrlen): only AF_UNIX goes on
    char *addr = (char *)ctx->args[1];
    u16 family = 0;
    if (read_user(&family, sizeof(family), addr) || family != AF_UNIX)
        return 0;
    struct event *ev = begin(EV_CONNECT);
    if (!ev)
        return 0;
    u32 len = ctx->args[2];
    ev->a0 = family;
    ev->a1 = len;
    if (len > SUN_PATH_LEN + 2)
        len = SUN_PATH_LEN + 2;
    if (len > 2)
        read_user(&ev->s0, (len - 2) & 127, addr + 2);
    return 0;
}

// attach: syscalls:sys_exit_clone
// attach: syscalls:sys_exit_clone3
// attach: syscalls:sys_exit_unshare
// attach: syscalls:sys_exit_setns
// attach: syscalls:sys_exit_mount
// attach: syscalls:sys_exit_pivot_root
// attach: syscalls:sys_exit_connect
int on_sys_exit(struct syscall_exit *ctx)
{
    return finish(ctx->ret);
}
