package pipeline

// Mailbox hands values from one goroutine to another, latest wins: Put
// never blocks and replaces a value the reader has not taken yet, so a slow
// reader never delays the writer and never reads stale data. It is the one
// hand-over between the pipeline's stages that must not push back (kernel
// views, owners from packet comments, kernel events' owner updates). The
// zero value is not usable; use NewMailbox. Safe for any number of writers
// and readers.
type Mailbox[T any] struct {
	ch chan T
}

// NewMailbox returns an empty mailbox.
func NewMailbox[T any]() *Mailbox[T] {
	return &Mailbox[T]{ch: make(chan T, 1)}
}

// Put leaves v in the mailbox, replacing a value not yet taken.
func (m *Mailbox[T]) Put(v T) {
	for {
		select {
		case m.ch <- v:
			return
		default:
		}
		// Full: take the stale value out (unless a reader just did).
		select {
		case <-m.ch:
		default:
		}
	}
}

// C returns the channel a reader selects on; each value received is
// removed from the mailbox.
func (m *Mailbox[T]) C() <-chan T { return m.ch }

// Take returns the value waiting, if any, without blocking.
func (m *Mailbox[T]) Take() (T, bool) {
	select {
	case v := <-m.ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}
