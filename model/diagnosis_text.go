package model

import "strconv"

// Text helpers of the finding summaries.

// role names a side for a summary: "server 10.0.0.2:8080".
func (d *diag) role(s Side) string {
	ep := d.f.Endpoint(s)
	if d.f.Client > SideB {
		return "endpoint " + ep.String()
	}
	if s == d.f.Client {
		return "client " + ep.String()
	}
	return "server " + ep.String()
}

// roleWord is "client" or "server" ("peer" when roles are unknown).
func (d *diag) roleWord(s Side) string {
	if d.f.Client > SideB {
		return "peer"
	}
	if s == d.f.Client {
		return "client"
	}
	return "server"
}

// dur renders a duration for a summary: "46 µs", "4.1 ms", "48 ms",
// "2.0 s", "3 min 5 s".
func dur(ns int64) string {
	switch {
	case ns < 0:
		return "0 s"
	case ns < 1e6:
		return strconv.FormatInt(ns/1e3, 10) + " µs"
	case ns < 10e6:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', 1, 64) + " ms"
	case ns < 1e9:
		return strconv.FormatInt(ns/1e6, 10) + " ms"
	case ns < 60e9:
		return strconv.FormatFloat(float64(ns)/1e9, 'f', 1, 64) + " s"
	case ns < 3600e9:
		return strconv.FormatInt(ns/60e9, 10) + " min " + strconv.FormatInt(ns%60e9/1e9, 10) + " s"
	}
	return strconv.FormatInt(ns/3600e9, 10) + " h " + strconv.FormatInt(ns%3600e9/60e9, 10) + " min"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
