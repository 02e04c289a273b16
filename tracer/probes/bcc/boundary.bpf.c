// dockertrace: what crosses the engine's boundaries (bcc, tracepoints only), compiled after
// exec.bpf.c, whose maps, event struct and begin/now/submit/finish it uses: runc's cgroups
// (cgroup_mkdir/cgroup_attach_task), dockerd's container record (openat/renameat of
// config.v2.json and hostconfig.json), and the output's way back (the container's write() to
// fd 1/2, the shim's write() to the stdio FIFO, dockerd's read() of it).

// Whether one more write or read of this process and fd may be sent (at most IO_MAX).
static __always_inline int io_budget(u64 key)
{
    u32 *n = dt_io.lookup(&key), one = 1;
    if (!n) {
        dt_io.update(&key, &one);
        return 1;
    }
    if (*n >= IO_MAX)
        return 0;
    __sync_fetch_and_add(n, 1);
    return 1;
}

// attach: cgroup:cgroup_mkdir
int on_cgroup_mkdir(struct tp_cgroup_mkdir *args)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32, tid = (u32)bpf_get_current_pid_tgid();
    if (!is_tracked(tgid))
        return 0;
    struct event *ev = now(EV_CGROUP_MKDIR, tgid, tid);
    if (!ev)
        return 0;
    ev->a0 = (u32)args->root;
    ev->a1 = (u32)args->level;
    ev->ret = args->id;
    unsigned short off = args->path & 0xFFFF;
    read_kernel_str(&ev->s0, sizeof(ev->s0), (char *)args + off);
    submit(ev);
    return 0;
}

// attach: cgroup:cgroup_attach_task
int on_cgroup_attach(struct tp_cgroup_attach_task *args)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32, tid = (u32)bpf_get_current_pid_tgid();
    if (!is_tracked(tgid))
        return 0;
    struct event *ev = now(EV_CGROUP_ATTACH, tgid, tid);
    if (!ev)
        return 0;
    ev->a0 = (u32)args->dst_root;
    ev->a1 = (u32)args->dst_level;
    ev->ret = args->dst_id;
    ev->how = args->pid;
    unsigned short off = args->dst_path & 0xFFFF;
    read_kernel_str(&ev->s0, sizeof(ev->s0), (char *)args + off);
    off = args->comm & 0xFFFF;
    read_kernel_str(&ev->comm2, sizeof(ev->comm2), (char *)args + off);
    submit(ev);
    return 0;
}

// The path a syscall names, read into this CPU's scratch slot: most are not wanted.
static __always_inline char *peek_path(const char *user)
{
    u32 zero = 0;
    char *buf = (char *)dt_path.lookup(&zero);
    if (!buf || read_user_str(buf, STR_LEN, user) <= 0)
        return 0;
    return buf;
}

// attach: syscalls:sys_enter_openat
int on_enter_openat(struct syscall_enter *ctx)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_tracked(tgid))
        return 0;
    const char *user = (const char *)ctx->args[1]; // openat(dfd, filename, flags, mode)
    char *p = peek_path(user);
    if (!p)
        return 0;
    u64 *w = (u64 *)p; // the path's first words, tested against the watched prefixes
    u32 purpose = (__IS_FIFO_PATH__) ? O_PATH_OR_FIFO : (__IS_META_PATH__) ? 1 : 0;
    if (!purpose)
        return 0;
    struct event *ev = begin(EV_OPENAT);
    if (!ev)
        return 0;
    ev->a0 = ctx->args[2];
    ev->how = purpose;
    read_user_str(&ev->s0, sizeof(ev->s0), user);
    return 0;
}

// attach: syscalls:sys_exit_openat
int on_exit_openat(struct syscall_exit *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct event *ev = dt_pending.lookup(&tid);
    // An open of a FIFO waits for its other end (the shim's, dockerd's): stamped when it
    // returns, the moment the two ends met, not when it began to wait (up to ~0.3 s before).
    if (ev && ev->kind == EV_OPENAT)
        ev->ts_ns = bpf_ktime_get_ns();
    if (ev && ev->kind == EV_OPENAT && ev->how == O_PATH_OR_FIFO && ctx->ret >= 0) {
        u64 key = (id & 0xFFFFFFFF00000000ULL) | (u32)ctx->ret; // tgid << 32 | fd
        u8 one = 1;
        dt_fds.update(&key, &one);
    }
    return finish(ctx->ret);
}

// attach: syscalls:sys_enter_renameat
// attach: syscalls:sys_enter_renameat2
int on_enter_renameat(struct syscall_enter *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32;
    if (!is_tracked(tgid) || tgid == SELF_TGID)
        return 0;
    const char *user = (const char *)ctx->args[3]; // renameat(olddfd, oldname, newdfd, newname)
    char *p = peek_path(user);
    if (!p)
        return 0;
    u64 *w = (u64 *)p;
    if (!(__IS_META_PATH__))
        return 0;
    struct event *ev = now(EV_RENAME, tgid, (u32)id);
    if (!ev)
        return 0;
    read_user_str(&ev->s0, sizeof(ev->s0), user);
    read_user_str(&ev->s1, sizeof(ev->s1), (const char *)ctx->args[1]);
    submit(ev);
    return 0;
}

// attach: syscalls:sys_enter_write
int on_enter_write(struct syscall_enter *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32;
    u64 fd = ctx->args[0], key = (id & 0xFFFFFFFF00000000ULL) | (u32)fd;
    u32 to_fifo = dt_fds.lookup(&key) != 0;
    if (!to_fifo && !((fd == 1 || fd == 2) && dt_container.lookup(&tgid)))
        return 0; // the one test every write on the host pays: one or two hash lookups
    if (!io_budget(key))
        return 0;
    struct event *ev = now(EV_WRITE, tgid, (u32)id);
    if (!ev)
        return 0;
    u64 count = ctx->args[2]; // write(fd, buf, count)
    u32 n = count < EXCERPT_LEN ? count : EXCERPT_LEN;
    ev->a0 = fd;
    ev->a1 = count;
    ev->how = to_fifo;
    if (n > 0 && !read_user(&ev->s0, n & (EXCERPT_LEN * 2 - 1), (void *)ctx->args[1]))
        ev->argc = n;
    submit(ev);
    return 0;
}

// attach: syscalls:sys_enter_read
int on_enter_read(struct syscall_enter *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 key = (id & 0xFFFFFFFF00000000ULL) | (u32)ctx->args[0];
    if (!dt_fds.lookup(&key))
        return 0;
    struct event *ev = begin(EV_READ);
    if (ev) { // read(fd, buf, count)
        ev->a0 = ctx->args[0];
        ev->a1 = ctx->args[1];
    }
    return 0;
}

// attach: syscalls:sys_exit_read
int on_exit_read(struct syscall_exit *ctx)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct event *ev = dt_pending.lookup(&tid);
    if (!ev || ev->kind != EV_READ)
        return 0;
    u64 key = (bpf_get_current_pid_tgid() & 0xFFFFFFFF00000000ULL) | (u32)ev->a0;
    if (ctx->ret <= 0 || !io_budget(key)) { // EAGAIN, the FIFO's end, or enough of it seen
        dt_pending.delete(&tid);
        return 0;
    }
    u32 n = ctx->ret < EXCERPT_LEN ? ctx->ret : EXCERPT_LEN;
    if (!read_user(&ev->s0, n & (EXCERPT_LEN * 2 - 1), (void *)ev->a1))
        ev->argc = n;
    ev->a1 = ctx->ret;
    return finish(ctx->ret);
}

// attach: syscalls:sys_enter_close
int on_enter_close(struct syscall_enter *ctx)
{
    u64 key = (bpf_get_current_pid_tgid() & 0xFFFFFFFF00000000ULL) | (u32)ctx->args[0];
    dt_fds.delete(&key); // that fd number may next name something else
    dt_io.delete(&key);
    return 0;
}
