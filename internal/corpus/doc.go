// Package corpus locates the shared reference corpus for tests: the public
// captures and their tshark oracles, checked out beside the repository as
// ../shared (relative to the directory holding go.mod), never reached by
// an absolute path.
//
// Every test that needs the corpus goes through this package, so that one
// policy holds everywhere: when the corpus (or the one capture a test asks
// for) is absent, the test is skipped with a message naming what is
// missing and where it was looked for; when the environment has CI=true,
// the test fails instead, because a CI run without its reference data
// proves nothing.
//
//	dir := corpus.PublicDir(t)              // ../shared/pcaps/public
//	path := corpus.Capture(t, "ndpi-avast.pcap")
//	for _, c := range corpus.Captures(t) {  // every capture, sorted by name
//		if c.Oracle == "" { continue }      // c.Oracle: the tshark oracle's path
//		...
//	}
//
// Only tests import it.
package corpus
