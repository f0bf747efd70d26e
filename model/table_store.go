package model

import (
	"encoding/binary"
	"net/netip"
)

// The table's store: the fixed-size chunks of flow states and their free
// list (the 4-tuple index is in table_index.go), the ID-ordered list of live flows, and the
// two LRU lists that eviction (MaxFlows) and Expire walk oldest first.

type tblIDSlot struct {
	id   FlowID
	slot int32
}

type tblList struct{ head, tail int32 }

type tblLink struct{ prev, next int32 }

// LRU list indexes.
const (
	tblOpen   = 0
	tblClosed = 1
)

const tblChunk = 256

// flowKey is the conversation key: the unordered pair of (address, port)
// endpoints, lower one first. VLANs and interfaces are not part of it:
// tshark 4.0 merges copies of a connection seen on several.
type flowKey struct {
	addr [2][16]byte
	port [2]uint16
	v6   bool
}

// makeFlowKey returns the key of a segment and the key index (0 or 1) of
// its source.
func makeFlowKey(src, dst netip.AddrPort) (flowKey, uint8) {
	var k flowKey
	sa, da := src.Addr().As16(), dst.Addr().As16()
	sp, dp := src.Port(), dst.Port()
	k.v6 = !src.Addr().Is4()
	if tblEndpointLess(da, dp, sa, sp) {
		k.addr[0], k.addr[1] = da, sa
		k.port[0], k.port[1] = dp, sp
		return k, 1
	}
	k.addr[0], k.addr[1] = sa, da
	k.port[0], k.port[1] = sp, dp
	return k, 0
}

func tblEndpointLess(a [16]byte, ap uint16, b [16]byte, bp uint16) bool {
	ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if ah != bh {
		return ah < bh
	}
	al, bl := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	if al != bl {
		return al < bl
	}
	return ap < bp
}

// addrPort rebuilds endpoint i of the key.
func (k *flowKey) addrPort(i uint8) netip.AddrPort {
	var a netip.Addr
	if k.v6 {
		a = netip.AddrFrom16(k.addr[i])
	} else {
		a = netip.AddrFrom4([4]byte(k.addr[i][12:]))
	}
	return netip.AddrPortFrom(a, k.port[i])
}

func (t *Table) slot(i int32) *flowState {
	return &t.chunks[i/tblChunk][i%tblChunk]
}

// newFlow creates the flow that segment s opens, evicting the oldest idle
// flow at the cap, and returns its slot.
func (t *Table) newFlow(key *flowKey, h uint64, srcIdx uint8, s *Segment, fixed bool) int32 {
	for int(t.stats.Flows) >= t.cfg.MaxFlows {
		if !t.evictOldest() {
			break
		}
	}
	var slot int32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if int(t.nslots) == len(t.chunks)*tblChunk {
			t.chunks = append(t.chunks, make([]flowState, tblChunk))
		}
		slot = t.nslots
		t.nslots++
		t.links = append(t.links, tblLink{prev: -1, next: -1})
	}
	f := t.slot(slot)
	*f = flowState{
		key: *key, aIdx: srcIdx, id: t.nextID, client: SideNone,
		firstFrame: s.Frame, firstTS: s.TS, list: tblOpen,
		an: [2]anDir{newAnDir(), newAnDir()},
	}
	f.initStates(s, fixed)
	t.nextID++
	t.indexPut(key, h, slot)
	t.byID = append(t.byID, tblIDSlot{id: f.id, slot: slot})
	t.stats.Flows++
	t.stats.FlowsCreated++
	t.linkTail(tblOpen, slot, f)
	return slot
}

// relist moves a flow to the tail of the LRU list its closed state calls
// for.
func (t *Table) relist(slot int32, f *flowState) {
	want := uint8(tblOpen)
	if f.isClosed() {
		want = tblClosed
	}
	if f.list == want && t.links[slot].next == -1 {
		return // already the newest of its list
	}
	t.unlink(slot, f)
	t.linkTail(want, slot, f)
}

func (t *Table) linkTail(l uint8, slot int32, f *flowState) {
	f.list = l
	t.links[slot] = tblLink{prev: t.lru[l].tail, next: -1}
	if t.lru[l].tail >= 0 {
		t.links[t.lru[l].tail].next = slot
	} else {
		t.lru[l].head = slot
	}
	t.lru[l].tail = slot
}

func (t *Table) unlink(slot int32, f *flowState) {
	l := &t.lru[f.list]
	k := t.links[slot]
	if k.prev >= 0 {
		t.links[k.prev].next = k.next
	} else {
		l.head = k.next
	}
	if k.next >= 0 {
		t.links[k.next].prev = k.prev
	} else {
		l.tail = k.prev
	}
	t.links[slot] = tblLink{prev: -1, next: -1}
}

// evictOldest drops the flow idle the longest (closed first on a tie).
func (t *Table) evictOldest() bool {
	o, c := t.lru[tblOpen].head, t.lru[tblClosed].head
	victim := o
	switch {
	case o < 0 && c < 0:
		return false
	case o < 0:
		victim = c
	case c >= 0 && t.slot(c).lastTS <= t.slot(o).lastTS:
		victim = c
	}
	t.remove(victim, true)
	return true
}

// remove drops the flow in slot, telling OnRemove.
func (t *Table) remove(slot int32, evicted bool) {
	f := t.slot(slot)
	if t.cfg.OnRemove != nil {
		var fl Flow
		t.fillFlow(f, &fl, nil)
		defer t.cfg.OnRemove(fl, evicted)
	}
	t.indexDelete(&f.key, t.index.hash(&f.key), slot)
	f.an[0].release(&t.unack)
	f.an[1].release(&t.unack)
	if i, ok := t.findID(f.id); ok {
		t.byID[i].slot = -1
		t.byIDDead++
		t.compactIDs()
	}
	t.unlink(slot, f)
	*f = flowState{}
	t.free = append(t.free, slot)
	t.stats.Flows--
	if evicted {
		t.stats.Evicted++
	} else {
		t.stats.Expired++
	}
}

// findID returns the byID position of a live flow.
func (t *Table) findID(id FlowID) (int, bool) {
	lo, hi := 0, len(t.byID)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.byID[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(t.byID) && t.byID[lo].id == id && t.byID[lo].slot >= 0 {
		return lo, true
	}
	return 0, false
}

// compactIDs drops tombstones once they are half of byID.
func (t *Table) compactIDs() {
	if t.byIDDead < 64 || t.byIDDead*2 < len(t.byID) {
		return
	}
	j := 0
	for _, e := range t.byID {
		if e.slot >= 0 {
			t.byID[j] = e
			j++
		}
	}
	clear(t.byID[j:])
	t.byID = t.byID[:j]
	t.byIDDead = 0
}

// Expire removes the closed flows whose last packet is at least
// Config.Retention old and any flow silent for Config.IdleTimeout, as of
// now (ns), and returns how many it removed. Flows are examined oldest
// first, so the cost is proportional to what is removed.
func (t *Table) Expire(now int64) int {
	n := 0
	walk := func(l uint8, age int64) {
		for h := t.lru[l].head; h >= 0; h = t.lru[l].head {
			if now-t.slot(h).lastTS < age {
				return
			}
			t.remove(h, false)
			n++
		}
	}
	if t.cfg.Retention > 0 {
		walk(tblClosed, t.cfg.Retention)
	}
	if t.cfg.IdleTimeout > 0 {
		walk(tblClosed, t.cfg.IdleTimeout)
		walk(tblOpen, t.cfg.IdleTimeout)
	}
	return n
}
