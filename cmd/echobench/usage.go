package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"echobench/internal/results"
)

// usageOf is a rusage as the JSON line of `--usage-out`. ru_maxrss is in
// KiB on Linux.
func usageOf(ru *syscall.Rusage, wall time.Duration) results.ServerUsage {
	return results.ServerUsage{
		CPUUserS:     time.Duration(ru.Utime.Nano()).Seconds(),
		CPUSysS:      time.Duration(ru.Stime.Nano()).Seconds(),
		PeakRSSBytes: ru.Maxrss * 1024,
		VolCtxSw:     ru.Nvcsw,
		InvolCtxSw:   ru.Nivcsw,
		WallS:        wall.Seconds(),
	}
}

// usageOut is where `--usage-out` writes its line: a file created when the
// command starts (so a path that cannot be written fails before the
// server runs, not after), or stdout for "-".
type usageOut struct {
	w    io.Writer
	file *os.File // nil for stdout
	name string
}

func openUsageOut(cmd, path string, stdout io.Writer) (*usageOut, error) {
	if path == "-" {
		return &usageOut{w: stdout, name: "stdout"}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: --usage-out: %w", cmd, err)
	}
	return &usageOut{w: f, file: f, name: path}, nil
}

// write writes u as one line and closes the file.
func (o *usageOut) write(cmd string, u results.ServerUsage) error {
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("%s: --usage-out: %w", cmd, err)
	}
	_, err = o.w.Write(append(b, '\n'))
	if o.file != nil {
		if cerr := o.file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("%s: --usage-out %s: %w", cmd, o.name, err)
	}
	return nil
}

// close abandons the line (the command failed before it had figures).
func (o *usageOut) close() {
	if o.file != nil {
		o.file.Close()
	}
}
