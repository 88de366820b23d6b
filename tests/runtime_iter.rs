//! Runtime tests of `iter:` probes (`ctx` typed from BTF, output in iteration order, the
//! run ending with the iteration), `comm(pid)`, raw tracepoint arguments by name, and the
//! BTF-based listings (`-l 'iter:*'`, `-lv` parameters, `-lv 'struct X'`).

mod common;
use common::*;

use std::os::fd::AsRawFd;

fn out(args: &[&str]) -> String {
    let o = spyglass_checked(args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

fn own_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn iter_task_sees_this_process() {
    let pid = std::process::id();
    let prog = format!(
        "iter:task /ctx->task->pid == {pid}/ {{ printf(\"%d %s\\n\", ctx->task->tgid, ctx.task.comm); }}"
    );
    // No exit(): the run ends when the iteration does.
    let o = out(&["-q", "-e", &prog]);
    assert_eq!(o, format!("{pid} {}\n\n\n", own_comm()));
}

#[test]
fn iter_task_file_sees_an_open_file() {
    let path = format!("{}/spyglass-iter-probe.txt", env!("CARGO_TARGET_TMPDIR"));
    let f = std::fs::File::create(&path).unwrap();
    let (pid, fd) = (std::process::id(), f.as_raw_fd());
    let prog = format!(
        "iter:task_file /ctx->task->pid == {pid} && ctx->fd == {fd}/ {{
            printf(\"%d %s\\n\", ctx->fd, str(ctx->file->f_path.dentry->d_name.name)); }}"
    );
    let o = out(&["-q", "-e", &prog]);
    assert_eq!(o, format!("{fd} spyglass-iter-probe.txt\n\n\n"));
    drop(f);
}

#[test]
fn iter_output_keeps_iteration_order_even_after_exit() {
    // bpftrace prints an iterator's output as the iteration makes it: exit() does not cut
    // it short, and the NULL call after the last task runs nothing.
    let o = out(&[
        "-q",
        "-e",
        "iter:task { printf(\"%d\\n\", ctx->meta->seq_num); exit(); }",
    ]);
    let lines: Vec<&str> = o.trim_end().lines().collect();
    assert!(lines.len() > 10, "{o}");
    let want: Vec<String> = (0..lines.len()).map(|i| i.to_string()).collect();
    assert_eq!(lines, want);
}

#[test]
fn comm_of_the_reading_process_and_of_others() {
    // Iterator programs run in the reader: spyglass itself.
    let o = out(&[
        "-q",
        "-e",
        "iter:task { @ = comm(pid); @none = comm(pid + 1000000); exit() }",
    ]);
    assert_eq!(o, "\n\n@: spyglass\n@none: \n");
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let prog = format!(
        "begin {{ printf(\"%s %s\\n\", comm({}), comm); exit(); }}",
        child.id()
    );
    let o = out(&["-q", "-e", &prog]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(o, "sleep spyglass\n\n\n");
}

#[test]
fn rawtracepoint_arguments_by_name() {
    // sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
    let w = workload();
    let cmd = format!("{w} 1");
    let o = out(&[
        "-q",
        "-c",
        &cmd,
        "-e",
        "rt:sched_process_exec /pid == cpid/ { printf(\"%d %s %d\\n\", args.old_pid == cpid,
            str(args.bprm->filename), args.p->pid == cpid); }",
    ]);
    assert_eq!(o, format!("1 {w} 1\n\n\n"));
}

#[test]
fn listings_come_from_btf() {
    assert_eq!(
        out(&["-l", "iter:task*"]),
        "iter:task\niter:task_file\niter:task_vma\n"
    );
    assert_eq!(
        out(&["-lv", "it:task_file"]),
        "iter:task_file\n    struct task_struct * task;\n    u32 fd;\n    struct file * file;\n"
    );
    assert_eq!(
        out(&["-lv", "rawtracepoint:sched_process_exec"]),
        "rawtracepoint:vmlinux:sched_process_exec\n    struct task_struct * p;\n    pid_t old_pid;\n    struct linux_binprm * bprm;\n"
    );
    assert_eq!(
        out(&["-lv", "struct list_head,struct hlist_node"]),
        "vmlinux: struct list_head {\n\tstruct list_head *next;\n\tstruct list_head *prev;\n};\n\n\
         vmlinux: struct hlist_node {\n\tstruct hlist_node *next;\n\tstruct hlist_node **pprev;\n};\n\n"
    );
    assert_eq!(out(&["-l", "struct list_hea*"]), "struct list_head\n");
    assert!(out(&["--info"]).contains("  iter: yes\n"));
}

#[test]
fn several_iterators_run_one_after_another() {
    let path = format!("{}/spyglass-iter-two.txt", env!("CARGO_TARGET_TMPDIR"));
    let f = std::fs::File::create(&path).unwrap();
    let (pid, fd) = (std::process::id(), f.as_raw_fd());
    let prog = format!(
        "iter:task /ctx->task->pid == {pid}/ {{ printf(\"task\\n\"); }}
         iter:task_file,iter:task_vma {{ @[probe] = 1; }}
         iter:task_file /ctx->task->pid == {pid} && ctx->fd == {fd}/ {{ printf(\"fd\\n\"); }}"
    );
    let o = out(&["-q", "-e", &prog]);
    assert_eq!(
        o,
        "task\nfd\n\n\n@[iter:task_file]: 1\n@[iter:task_vma]: 1\n"
    );
    drop(f);
}

/// `path()` and `socket_cookie()` need kernel objects the verifier knows by type: members
/// of an iterator's context qualify (they are loaded straight from it).
#[test]
fn path_and_socket_cookie_take_iterator_context_members() {
    let path = format!("{}/spyglass-iter-path.txt", env!("CARGO_TARGET_TMPDIR"));
    let f = std::fs::File::create(&path).unwrap();
    let (pid, fd) = (std::process::id(), f.as_raw_fd());
    let prog = format!(
        r#"iter:task_file {{ if (ctx.file != 0 && ctx.task.pid == {pid} && ctx.fd == {fd}) {{ printf("%s\n", path(&ctx.file->f_path)); }} }}"#
    );
    assert_eq!(out(&["-q", "-e", &prog]), format!("{path}\n\n\n"));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let prog = format!(
        r#"iter:tcp {{ if (ctx.sk_common != 0 && ctx.sk_common->skc_num == {port}) {{
             $c = socket_cookie(ctx.sk_common);
             printf("%d %d\n", $c > 0, $c == socket_cookie(ctx.sk_common));
           }} }}"#
    );
    assert_eq!(out(&["-q", "-e", &prog]), "1 1\n\n\n");
    drop(listener);
    let o = run_e("tracepoint:syscalls:sys_enter_getpid { print(socket_cookie(0)); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("socket_cookie() cannot be used in tracepoint probes"),
        "{}",
        o.stderr
    );
}
