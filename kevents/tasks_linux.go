package kevents

import (
	"bytes"
	"os"
	"strconv"
)

// task is what the source knows of a thread: its process and command name.
type task struct {
	tgid int32
	comm string
}

// maxTasks bounds the task table; past it the table is emptied and filled
// again from the stream and /proc.
const maxTasks = 1 << 16

// tasks maps thread ids to processes and names. It learns them from the
// event stream (task_newtask, task_rename), which is right even for a
// task that has exited by the time its events are read, and asks /proc
// for threads that were born before the source opened.
type tasks struct {
	m map[int32]task
}

func newTasks() *tasks { return &tasks{m: make(map[int32]task)} }

// lookup returns what is known of tid, asking /proc on first sight.
func (t *tasks) lookup(tid int32) task {
	if tid <= 0 {
		return task{}
	}
	if k, ok := t.m[tid]; ok {
		return k
	}
	k, ok := procTask(tid)
	if ok {
		t.put(tid, k)
	}
	return k
}

func (t *tasks) put(tid int32, k task) {
	if len(t.m) >= maxTasks {
		clear(t.m)
	}
	t.m[tid] = k
}

// newTask records a task created by parent: a thread joins its parent's
// process, anything else is a process of its own. The kernel's
// task_newtask event names the child's command, which it inherits.
func (t *tasks) newTask(parent, child int32, comm string, cloneFlags uint64) {
	tgid := child
	if cloneFlags&cloneThread != 0 {
		if p := t.lookup(parent); p.tgid != 0 {
			tgid = p.tgid
		} else {
			tgid = 0 // unknown: the parent is gone and was never seen
		}
	}
	t.put(child, task{tgid: tgid, comm: comm})
}

// rename records a task's new command name (exec, prctl PR_SET_NAME).
func (t *tasks) rename(tid int32, comm string) {
	k := t.lookup(tid)
	if k.comm == comm {
		return
	}
	k.comm = comm
	t.put(tid, k)
}

// procTask reads /proc/TID/status (reachable for any thread id, listed or
// not): Name and Tgid.
func procTask(tid int32) (task, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(tid)) + "/status")
	if err != nil {
		return task{}, false
	}
	var k task
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		switch string(key) {
		case "Name":
			k.comm = string(val)
		case "Tgid":
			n, err := strconv.Atoi(string(val))
			if err == nil {
				k.tgid = int32(n)
			}
			return k, k.tgid > 0
		}
	}
	return k, false
}
