//go:build !linux

package procinfo

import (
	"time"

	"github.com/connscope/connscope/model"
)

// sysPoller has nothing to poll off Linux: INET_DIAG, /proc/PID/fd and
// network namespaces are Linux's.
type sysPoller struct{}

func newSysPoller(Config) (*sysPoller, error) { return nil, ErrUnsupported }

func (*sysPoller) poll(time.Time) (model.KernelView, error) {
	return model.KernelView{}, ErrUnsupported
}
