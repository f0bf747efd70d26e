package procinfo

import (
	"slices"
	"testing"

	"github.com/connscope/connscope/model"
)

// fakePoller holds processes that do not exist: a rescan of their fd
// tables would empty them, which the tests below would notice.
func fakePoller() *sysPoller {
	s, _ := newSysPoller(Config{}.withDefaults())
	s.procs = map[int32]*procEntry{
		990010: {pid: 990010, uid: 1000, fds: 10, scannedFDs: 10, socks: []sockFD{{100, 3}, {200, 4}}},
		990005: {pid: 990005, uid: 1000, fds: 8, scannedFDs: 8, socks: []sockFD{{200, 7}}},
		990020: {pid: 990020, uid: 0, fds: 12, scannedFDs: 12, socks: []sockFD{{200, 9}, {200, 10}}},
	}
	for _, e := range s.procs {
		e.ring = model.NewFDRing(10)
	}
	return s
}

func TestJoin_OwnersSharedAndKernel(t *testing.T) {
	s := fakePoller()
	for _, e := range s.procs {
		e.rescanned = true // read this poll: nothing left to rescan
	}
	socks := []model.Socket{
		{Inode: 100, State: model.StateEstablished},
		{Inode: 200, State: model.StateListen},
		{Inode: 0, State: model.StateTimeWait},
		{Inode: 300, State: model.StateEstablished, UID: 1000},
	}
	var notes pollNotes
	s.join(socks, &notes)
	tests := []struct {
		owner  model.OwnerStatus
		pid    int32
		fd     int32
		shared []int32
	}{
		{model.OwnerKnown, 990010, 3, nil},
		{model.OwnerKnown, 990005, 7, []int32{990010, 990020}}, // lowest pid owns; a dup'd fd counts once
		{model.OwnerKernel, 0, 0, nil},
		{model.OwnerNotFound, 0, 0, nil},
	}
	for i, tt := range tests {
		sk := socks[i]
		if sk.Owner != tt.owner || sk.PID != tt.pid || sk.FD != tt.fd || !slices.Equal(sk.SharedWith, tt.shared) {
			t.Errorf("socket %d: got %v pid %d fd %d shared %v, want %v pid %d fd %d shared %v",
				sk.Inode, sk.Owner, sk.PID, sk.FD, sk.SharedWith, tt.owner, tt.pid, tt.fd, tt.shared)
		}
	}
	procs := s.processes(socks)
	var pids []int32
	for _, p := range procs {
		pids = append(pids, p.PID)
		if p.SocketsByState[model.StateListen] != 1 || len(p.Listeners) != 1 {
			t.Errorf("pid %d: got %d listening, %d listeners; want the shared listener once", p.PID, p.SocketsByState[model.StateListen], len(p.Listeners))
		}
	}
	if want := []int32{990005, 990010, 990020}; !slices.Equal(pids, want) {
		t.Errorf("processes: got %v, want %v", pids, want)
	}
}

func TestJoin_UnknownInodeRescansOnce(t *testing.T) {
	s := fakePoller()
	socks := []model.Socket{{Inode: 100}, {Inode: 300, UID: 1000}}
	var notes pollNotes
	notes.deniedFD = 1 // some table was unreadable: the unknown is "denied"
	// First sight of inode 300: the tables of uid 1000 are reread (here
	// they vanish, being fake), then everyone's.
	if full := s.join(socks, &notes); !full {
		t.Errorf("first join: got no full rescan, want one")
	}
	if socks[1].Owner != model.OwnerDenied {
		t.Errorf("unknown inode with a denied table: got %v, want denied", socks[1].Owner)
	}
	// Inode 300 is now known to be unexplained: no rescan for it again.
	s = fakePoller()
	s.unresolved[300] = struct{}{}
	socks = []model.Socket{{Inode: 100}, {Inode: 300, UID: 1000}}
	if full := s.join(socks, &pollNotes{}); full {
		t.Errorf("second join: got a full rescan, want none")
	}
	if socks[0].Owner != model.OwnerKnown || socks[0].PID != 990010 {
		t.Errorf("known inode after a join without rescans: got %v pid %d, want known 990010", socks[0].Owner, socks[0].PID)
	}
	if socks[1].Owner != model.OwnerNotFound {
		t.Errorf("unresolved inode: got %v, want not-found", socks[1].Owner)
	}
}
