#!/usr/bin/env bash
# run.sh: one distributed echobench run on a Kubernetes cluster.
#
# It creates the server (server.yaml: a Pod and its Service), waits until it
# accepts, creates N load generators (load-job.yaml: an Indexed Job) that all
# start their measured window at one instant of the cluster's clock, waits
# for them (bounded), collects each generator's JSON and the server's own
# figures from the pod logs, and runs `echobench merge` and `echobench
# report` on this machine. Everything it created is deleted when it exits,
# after an error or Ctrl-C too; the Pod and the Job also carry deadlines, so
# the cluster frees their CPUs even if this script is killed outright.
#
# It needs kubectl (a context that may create Pods, Services and Jobs and
# exec into its own Pod) and a local echobench for merge and report
# (`make build`). Walk-through: docs/distributed.md.
#
# Exit status: 0 the run was merged and reported, 1 it failed (the logs are
# kept in OUT/raw), 2 usage error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

usage() {
	cat <<EOF
Usage: deploy/kubernetes/run.sh --image IMAGE --model MODEL [options]

  --image IMAGE       echobench image the cluster can pull (built from the
                      repository root: docker build -f deploy/kubernetes/Dockerfile .)
  --model MODEL       server model, e.g. epoll (echobench models lists them)
  --conns N           connections over all generators (default 100)
  --size BYTES        message size (default 64)
  --duration SECS     measured window in whole seconds, e.g. 10s (default 10s)
  --warmup SECS       warm-up before the window (default 2s)
  --generators N      load generator pods (default 2)
  --server-cpus N     whole CPUs of the server pod (default 1)
  --load-cpus N       whole CPUs of each generator pod (default 1)
  --memory QUANTITY   memory of each pod (default 1Gi)
  --start-in SECS     from creating the generators to the window's start:
                      pulling the image, scheduling, connecting and the
                      warm-up must fit in it (default 60s)
  --namespace NS      namespace (default: the kubectl context's)
  --out DIR           raw logs and JSON, results.jsonl and the report
                      (default results/k8s-RUN_ID)
  --echobench PATH    local binary for merge and report (default bin/echobench
                      of this repository, else echobench on PATH)

Example:
  deploy/kubernetes/run.sh --image registry.example/echobench:v1 --model epoll \\
      --conns 1000 --size 64 --duration 30s --generators 4 --load-cpus 2
EOF
}

log() { printf 'run.sh: %s\n' "$*" >&2; }

usage_error() {
	log "$*"
	log "run 'deploy/kubernetes/run.sh -h' for the options"
	exit 2
}

image="" model="" conns=100 size=64 duration=10s warmup=2s generators=2
server_cpus=1 load_cpus=1 memory=1Gi start_in=60s namespace="" out="" echobench=""
# Set once the server is up; the Job's manifest needs them.
addr="" start_at=""

parse_args() {
	while [[ $# -gt 0 ]]; do
		[[ $1 == -h || $1 == --help ]] && { usage; exit 0; }
		[[ $# -ge 2 ]] || usage_error "$1 needs a value"
		case $1 in
		--image) image=$2 ;;
		--model) model=$2 ;;
		--conns) conns=$2 ;;
		--size) size=$2 ;;
		--duration) duration=$2 ;;
		--warmup) warmup=$2 ;;
		--generators) generators=$2 ;;
		--server-cpus) server_cpus=$2 ;;
		--load-cpus) load_cpus=$2 ;;
		--memory) memory=$2 ;;
		--start-in) start_in=$2 ;;
		--namespace) namespace=$2 ;;
		--out) out=$2 ;;
		--echobench) echobench=$2 ;;
		*) usage_error "unknown option $1" ;;
		esac
		shift 2
	done
}

# check NAME VALUE REGEX WHAT: a usage error naming the option unless VALUE
# matches. Values go into the manifests through sed, so none may hold a
# character the YAML or the sed expression would read.
check() {
	[[ $2 =~ $3 ]] || usage_error "--$1 must be $4, got '$2'"
}

validate() {
	[[ -n $image ]] || usage_error "--image is required"
	[[ -n $model ]] || usage_error "--model is required"
	check image "$image" '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$' "an image reference"
	check model "$model" '^[a-z0-9][a-z0-9-]*$' "a model name"
	local opt
	for opt in conns size generators server-cpus load-cpus; do
		local var=${opt//-/_}
		check "$opt" "${!var}" '^[1-9][0-9]*$' "a whole number of at least 1"
	done
	check duration "$duration" '^[1-9][0-9]*s?$' "whole seconds, e.g. 10s"
	check warmup "$warmup" '^[0-9]+s?$' "whole seconds, e.g. 2s"
	check start-in "$start_in" '^[1-9][0-9]*s?$' "whole seconds, e.g. 60s"
	check memory "$memory" '^[1-9][0-9]*(Ki|Mi|Gi|Ti)?$' "a quantity such as 1Gi"
	((conns >= generators)) || usage_error "--conns ($conns) must be at least --generators ($generators): each generator needs a connection"
	duration=${duration%s}s warmup=${warmup%s}s start_in=${start_in%s}
	((start_in <= 3000)) || usage_error "--start-in must be at most 3000s (echobench load refuses a --start-at more than 1 h ahead)"
}

# setup_names fills in the run's identity and where things go.
setup_names() {
	run_id=$(date +%Y%m%d-%H%M%S)-$(printf '%04x' "$RANDOM")
	server=echobench-server-$run_id
	job=echobench-load-$run_id
	out=${out:-results/k8s-$run_id}
	raw=$out/raw
	if [[ -z $echobench ]]; then
		echobench=$here/../../bin/echobench
		[[ -x $echobench ]] || echobench=echobench
	fi
	command -v kubectl >/dev/null || usage_error "kubectl is not on PATH"
	command -v "$echobench" >/dev/null || usage_error "no echobench at '$echobench' for merge and report: run 'make build' or pass --echobench"
	if [[ -z $namespace ]]; then
		namespace=$(kubectl config view --minify -o 'jsonpath={..namespace}')
		namespace=${namespace:-default}
	fi
	# How long the generators may take: start, window, drain of the last
	# messages (the load's 2 s timeout) and their JSON, with room to spare.
	load_deadline_s=$((start_in + ${duration%s} + 60))
	# The server must outlive them, and its image may still be pulling.
	server_deadline_s=$((300 + load_deadline_s + 120))
}

k() { kubectl --namespace "$namespace" "$@"; }

# render FILE: the manifest with every placeholder replaced.
render() {
	sed -e "s|__RUN_ID__|$run_id|g" \
		-e "s|__IMAGE__|$image|g" \
		-e "s|__MODEL__|$model|g" \
		-e "s|__CONNS__|$conns|g" \
		-e "s|__SIZE_BYTES__|$size|g" \
		-e "s|__DURATION__|$duration|g" \
		-e "s|__WARMUP__|$warmup|g" \
		-e "s|__GENERATORS__|$generators|g" \
		-e "s|__SERVER_CPUS__|$server_cpus|g" \
		-e "s|__LOAD_CPUS__|$load_cpus|g" \
		-e "s|__MEMORY__|$memory|g" \
		-e "s|__SERVER_DEADLINE_S__|$server_deadline_s|g" \
		-e "s|__LOAD_DEADLINE_S__|$load_deadline_s|g" \
		-e "s|__SERVER_ADDR__|$addr|g" \
		-e "s|__START_AT__|$start_at|g" \
		"$here/$1"
}

cleanup() {
	local status=$?
	log "deleting the run's pods, service and job"
	k delete job,pod,service -l "app.kubernetes.io/instance=$run_id" --ignore-not-found --wait=false >/dev/null ||
		log "could not delete them; run: kubectl --namespace $namespace delete job,pod,service -l app.kubernetes.io/instance=$run_id"
	exit "$status"
}

# server_addr is the Service's ClusterIP and port as --addr takes them: an
# IP literal, in brackets if IPv6.
server_addr() {
	local ip port
	ip=$(k get service "$server" -o 'jsonpath={.spec.clusterIP}')
	port=$(k get service "$server" -o 'jsonpath={.spec.ports[0].port}')
	[[ $ip == *:* ]] && ip="[$ip]"
	echo "$ip:$port"
}

# wait_job returns 0 once every generator succeeded, 1 once one failed or
# the Job's deadline (and a little more) has passed.
wait_job() {
	local deadline=$((SECONDS + load_deadline_s + 30)) status
	while ((SECONDS < deadline)); do
		status=$(k get job "$job" -o 'jsonpath={.status.succeeded}/{.status.failed}')
		case $status in
		"$generators"/*) return 0 ;;
		*/[1-9]*)
			log "a generator failed (succeeded/failed: $status)"
			return 1
			;;
		esac
		sleep 2
	done
	log "the generators did not finish within ${load_deadline_s}s"
	return 1
}

# collect_generators saves each generator's log and its JSON line (stdout's
# one JSON object; warnings in the same log are stderr's).
collect_generators() {
	local i pod failed=0
	for ((i = 0; i < generators; i++)); do
		pod=$(k get pods -l "batch.kubernetes.io/job-name=$job,batch.kubernetes.io/job-completion-index=$i" -o name)
		if [[ -z $pod || $pod == *$'\n'* ]]; then
			log "generator $i: expected one pod, found '${pod//$'\n'/ }'"
			failed=1
			continue
		fi
		k logs "$pod" >"$raw/gen-$i.log" || failed=1
		grep '^{' "$raw/gen-$i.log" | tail -n 1 >"$raw/gen-$i.json" || true
		if [[ ! -s $raw/gen-$i.json ]]; then
			log "generator $i printed no result; the end of its log ($raw/gen-$i.log):"
			tail -n 5 "$raw/gen-$i.log" >&2
			failed=1
		fi
	done
	return "$failed"
}

# stop_server ends the server with SIGTERM, so that it prints its own
# figures (--usage-out -), and saves them from its log.
stop_server() {
	k exec "$server" -- sh -c 'kill -TERM 1' || return 1
	k wait --for='jsonpath={.status.phase}=Succeeded' "pod/$server" --timeout=30s >/dev/null || return 1
	k logs "$server" >"$raw/server.log"
	grep '^{' "$raw/server.log" | tail -n 1 >"$raw/server-usage.json" || true
	[[ -s $raw/server-usage.json ]] || {
		log "the server printed no usage figures; its log: $raw/server.log"
		return 1
	}
}

# save_cpu_stat WHEN keeps the server container's cgroup v2 cpu.stat.
save_cpu_stat() {
	k exec "$server" -- cat /sys/fs/cgroup/cpu.stat >"$raw/server-cpu.stat.$1" 2>/dev/null || true
}

# stat_field FILE KEY is one figure of a saved cpu.stat, 0 when absent.
stat_field() {
	awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"
}

# server_throttle_note says whether the CFS quota stopped the server while
# the generators ran; echobench load records its own throttling, but the
# server's is only visible from here.
server_throttle_note() {
	local before=$raw/server-cpu.stat.before after=$raw/server-cpu.stat.after n us msg
	if [[ ! -s $before || ! -s $after ]]; then
		log "the server's cpu.stat could not be read (not cgroup v2?): whether its CPU quota throttled it is unknown"
		return
	fi
	n=$(($(stat_field "$after" nr_throttled) - $(stat_field "$before" nr_throttled)))
	us=$(($(stat_field "$after" throttled_usec) - $(stat_field "$before" throttled_usec)))
	if ((n > 0)); then
		msg="warning: the server's CPU quota throttled it in $n periods ($((us / 1000)) ms stopped) while the generators ran: its figures are the quota's as much as the model's; see docs/distributed.md"
		log "$msg"
		echo "$msg" >"$raw/server-throttled.txt"
	fi
}

main() {
	parse_args "$@"
	validate
	setup_names
	mkdir -p "$raw"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	log "run $run_id in namespace $namespace; results in $out"
	log "should this script be killed, remove the rest with: kubectl --namespace $namespace delete job,pod,service -l app.kubernetes.io/instance=$run_id"

	render server.yaml | k create -f -
	k wait --for=condition=Ready "pod/$server" --timeout=300s
	addr=$(server_addr)
	# The cluster's clock, not this machine's, is the one the generators
	# compare --start-at with.
	start_at=$(k exec "$server" -- date -u -d "+$start_in seconds" +%Y-%m-%dT%H:%M:%SZ)
	save_cpu_stat before
	render load-job.yaml | k create -f -
	log "$generators generators against $addr; their window starts at $start_at"

	local failed=0
	wait_job || failed=1
	save_cpu_stat after
	collect_generators || failed=1
	stop_server || failed=1
	if ((failed)); then
		log "the run failed; the logs are in $raw"
		exit 1
	fi
	server_throttle_note
	"$echobench" merge --out "$out/merged.json" --run "$out" --model "$model" \
		--server-usage "$raw/server-usage.json" "$raw"/gen-*.json
	"$echobench" report "$out"
}

main "$@"
