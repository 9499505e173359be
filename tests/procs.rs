//! `sister procs`: two real child processes, three threads each.

use crate::util::*;

#[test]
fn procs_processes_do_not_share_memory_threads_do_and_the_race_loses_updates() {
    let out = sister(&["procs", "--increments", "200000", "--max-sleep-ms", "50"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parent_pid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("parent (pid ")?.split(')').next()?.parse().ok())
        .expect(&stdout);
    let mut pids = vec![];
    for name in ["eve", "bob"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("summary {name} (pid ")))
            .expect(&stdout);
        let pid: u32 = line
            .split("(pid ")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        pids.push(pid);
        assert!(
            line.contains("threads shared one counter (600000 of 600000)"),
            "{line}"
        );
        assert!(
            line.contains("fetch_add 600000 and Mutex 600000 lost nothing"),
            "{line}"
        );
        assert!(
            stdout.contains(&format!("{name} (pid {pid}): my counter starts at 0")),
            "{stdout}"
        );
        let lost: u64 = line
            .split("load-then-store lost ")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(lost <= 600000);
        println!("{name}: lost {lost} of 600000 increments to the race");
    }
    assert_ne!(pids[0], pids[1]);
    assert!(!pids.contains(&parent_pid));
    assert!(stdout.contains("my counter is still 0"), "{stdout}");
}
