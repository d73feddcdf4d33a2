package tmpdeps

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/montanaflynn/stats"
	_ "github.com/panjf2000/gnet/v2"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/tidwall/evio"
	_ "golang.org/x/perf/benchmath"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/plotter"
	_ "gonum.org/v1/plot/vg"
)
