package tui

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/connscope/connscope/model"
)

// fmtBytes renders a byte count in at most 5 characters: "0", "999",
// "1.2K", "12K", "1.2M", "340G".
func fmtBytes(n uint64) string {
	if n < 1000 {
		return strconv.FormatUint(n, 10)
	}
	const units = "KMGTPE"
	v := float64(n)
	for i := 0; i < len(units); i++ {
		v /= 1024
		if v < 999.5 || i == len(units)-1 {
			return fmtScaled(v) + units[i:i+1]
		}
	}
	return "huge"
}

// fmtScaled prints one decimal below 10 and none above, so widths stay
// stable.
func fmtScaled(v float64) string {
	if v < 9.95 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// fmtRate renders bytes per second ("0", "512/s", "1.2K/s").
func fmtRate(bps float64) string {
	if bps < 0.5 {
		return "0"
	}
	return fmtBytes(uint64(bps+0.5)) + "/s"
}

// fmtCount renders a counter compactly: "0".."9999", then "12K", "3.4M".
func fmtCount(n uint64) string {
	switch {
	case n < 10000:
		return strconv.FormatUint(n, 10)
	case n < 999500:
		return fmtScaled(float64(n)/1e3) + "K"
	}
	return fmtScaled(float64(n)/1e6) + "M"
}

// fmtRel renders a time relative to a flow's start in seconds with
// microseconds, as Wireshark's "time since first frame" does.
func fmtRel(ns int64) string {
	neg := ns < 0
	if neg {
		ns = -ns
	}
	s := strconv.FormatInt(ns/1e9, 10) + "." + leftPad(strconv.FormatInt(ns%1e9/1e3, 10), 6, '0')
	if neg {
		return "-" + s
	}
	return s
}

// fmtClock renders a capture or wall time; withDate adds the day.
func fmtClock(ns int64, loc *time.Location, withDate bool) string {
	if ns == 0 {
		return "--:--:--"
	}
	t := time.Unix(0, ns).In(loc)
	if withDate {
		return t.Format("2006-01-02 15:04:05.000000")
	}
	return t.Format("15:04:05.000000")
}

// stateShort names states the way ss does, in at most 10 characters.
func stateShort(s model.State) string {
	switch s {
	case model.StateEstablished:
		return "ESTAB"
	case model.StateSynReceived:
		return "SYN-RECV"
	case model.StateUnknown:
		return "?"
	}
	return s.String()
}

// fmtAddr renders an endpoint in at most w cells, keeping the port whole:
// a long address loses its head, the least distinctive part on a LAN
// ("…0.12:51000").
func fmtAddr(ap netip.AddrPort, w int) string {
	if !ap.IsValid() {
		return "-"
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	s := ap.String()
	if len(s) <= w {
		return s
	}
	port := ":" + strconv.Itoa(int(ap.Port()))
	host := s[:len(s)-len(port)]
	keep := w - len(port) - 1 // one cell for the ellipsis
	if keep < 2 {
		return truncate(s, w)
	}
	return "…" + host[len(host)-keep:] + port
}

// truncate cuts s to at most w cells, marking the cut with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// fit pads or truncates s to exactly w cells, right-aligned if right.
func fit(s string, w int, right bool) string {
	s = truncate(s, w)
	gap := w - ansi.StringWidth(s)
	if gap <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

func leftPad(s string, w int, c byte) string {
	if len(s) >= w {
		return s
	}
	return strings.Repeat(string(c), w-len(s)) + s
}

// padLines pads or cuts a block to exactly h lines of exactly w cells, so
// views stack without shifting.
func padLines(lines []string, w, h int) string {
	var b strings.Builder
	for i := 0; i < h; i++ {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		b.WriteString(fitStyled(l, w))
		if i < h-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// fitStyled is fit for strings that may already carry styling: it
// truncates on display cells, ignoring escape sequences.
func fitStyled(s string, w int) string {
	n := ansi.StringWidth(s)
	switch {
	case n > w:
		return ansi.Truncate(s, w, "…")
	case n < w:
		return s + strings.Repeat(" ", w-n)
	}
	return s
}
