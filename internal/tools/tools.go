//go:build tools

// Package tools pins the project's dependencies in go.mod while the packages
// that use them are being written.
package tools

import (
	_ "github.com/charmbracelet/bubbles/textinput"
	_ "github.com/charmbracelet/bubbletea"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/charmbracelet/x/exp/teatest"
	_ "github.com/gopacket/gopacket/afpacket"
	_ "github.com/gopacket/gopacket/layers"
	_ "github.com/gopacket/gopacket/pcapgo"
	_ "github.com/shirou/gopsutil/v3/process"
	_ "github.com/shirou/gopsutil/v3/net"
	_ "github.com/vishvananda/netlink"
	_ "github.com/vishvananda/netns"
	_ "golang.org/x/net/bpf"
	_ "golang.org/x/sys/unix"
	_ "github.com/muesli/termenv"
)
