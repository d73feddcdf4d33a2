package netns

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Recorder is a Runner that records commands instead of running them, for
// the tests of code that builds networks (this package's and bench's): the
// command lines are what they check, without root. It keeps the list that
// `ip netns list` prints, which `ip netns add` and `del` change. A command
// whose argv, joined with spaces, starts with Fail fails with Out as its
// output.
type Recorder struct {
	Fail, Out string

	mu   sync.Mutex
	cmds []string
	list []string
}

// NewRecorder is a Recorder whose host already has the namespaces list.
func NewRecorder(list ...string) *Recorder { return &Recorder{list: list} }

// Run records argv and plays its part.
func (f *Recorder) Run(_ context.Context, argv []string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := strings.Join(argv, " ")
	f.cmds = append(f.cmds, line)
	if f.Fail != "" && strings.HasPrefix(line, f.Fail) {
		return []byte(f.Out), errors.New("exit status 2")
	}
	switch {
	case line == "ip netns list":
		var b strings.Builder
		for i, n := range f.list {
			// As ip prints a namespace that has an ID.
			b.WriteString(n + " (id: " + strconv.Itoa(i) + ")\n")
		}
		return []byte(b.String()), nil
	case strings.HasPrefix(line, "ip netns add "):
		f.list = append(f.list, argv[3])
	case strings.HasPrefix(line, "ip netns del "):
		f.list = slices.DeleteFunc(f.list, func(n string) bool { return n == argv[3] })
	}
	return nil, nil
}

// Commands are the commands run so far, each joined with spaces.
func (f *Recorder) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

// Namespaces is what `ip netns list` would print now.
func (f *Recorder) Namespaces() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}
