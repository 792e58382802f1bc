#!/usr/bin/env bash
# Slurm across the nodes of launch/cluster-up (launch/slurm-up --nodes 2: slurmctld on this
# machine as nnhead, a slurmd on node1 and on node2), jobs submitted as on a real cluster:
#  a) sbatch --nodes=2 --ntasks-per-node=2 launch/nntrain.sbatch (srun --mpi=pmix): COMPLETED,
#     the banner says "4 ranks on 2 nodes", --verbose places 2 ranks on each node (local rank
#     of 2: BLAS threads are worked out per node; a 2 nodes x 1 task x 2 CPUs job says
#     "2 BLAS threads"), model.h5 equals plain mpirun -np 4 on one node (bitwise where it
#     holds, else within 1e-5 relative; the largest difference is printed either way). The
#     same job stopped after step K (NNTRAIN_STOP_AT_STEP, NN_REQUEUE=0) resumes as a job on
#     1 node x 3 ranks: finished, within 1e-5 norm-wise of the uninterrupted job;
#  b) preemption across both nodes: `scancel --batch --signal=USR1` (what Slurm sends before
#     the time limit with --signal=B:USR1@...; sent by hand so that the test need not wait
#     ~1 minute for Slurm's time-limit check: tests/slurm/requeue.sh covers the real limit on
#     one node) -> the ranks on both nodes checkpoint -> the script requeues the job -> it runs
#     again on 2 nodes, "resuming from" the checkpoint (restart 1, SLURM_RESTART_COUNT) ->
#     COMPLETED, status finished, model within 1e-5 norm-wise of an uninterrupted job;
#  c) a lost node: node2's nntrain processes SIGKILLed late in a 2 x 2 job -> one line names
#     ranks 2, 3 (node2), the step and the newest checkpoint -> the batch script goes on inside
#     the allocation on node1 x 2 ranks from it -> COMPLETED, within 1e-5 of an uninterrupted run.
# Slurm and the cluster are taken down at the end, pass or fail; a single-node Slurm that was
# running before (./launch/test starts one) is started again. Skipped (exit 77, reason printed)
# where launch/slurm-up --nodes 2 cannot make the nodes or start Slurm.
# Environment from CTest: NNTRAIN, NNDATA, MPIEXEC, MPI_PREFLAGS, SRC_DIR.
set -u
. "$SRC_DIR/tests/worker/lib.sh"
L=$SRC_DIR/launch
nt_tmpdir cluster-slurm
JOBS=()
# a single-node Slurm of launch/slurm-up that is up now is brought back at the end
single_before=
head -1 /etc/slurm/slurm.conf 2>/dev/null | grep -q "launch/slurm-up (single-node" &&
    timeout 5 scontrol ping 2>/dev/null | grep -q "is UP" && single_before=1
cleanup() {
    [ ${#JOBS[@]} -gt 0 ] && scancel "${JOBS[@]}" 2>/dev/null
    "$L/slurm-down" > /dev/null 2>&1
    "$L/cluster-down" > /dev/null 2>&1
    [ -n "$single_before" ] && "$L/slurm-up" > /dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
die() { fail "$*"; finish; }

t0=$SECONDS
out=$("$L/slurm-up" --nodes 2 2>&1); rc=$?
if [ $rc = 77 ]; then echo "SKIP: $(echo "$out" | grep -E '(slurm|cluster)-up:' | tail -1)"; exit 77; fi
[ $rc = 0 ] || { echo "$out"; echo "FAIL: launch/slurm-up --nodes 2 exited $rc"; exit 1; }
nodes=$(sinfo -h -N -o '%N:%T:%c' | sort | xargs)
[ "$nodes" = "node1:idle:$(nproc) node2:idle:$(nproc)" ] &&
    ok "slurm-up --nodes 2 in $((SECONDS - t0)) s: $(scontrol ping | head -1); nodes $nodes" ||
    die "sinfo: '$nodes', want node1 and node2 idle with $(nproc) CPUs"
# in a chroot (the CI) the nodes have no mount namespace of their own: say which case this is
. "$L/common.sh"
pid=$(nn_node_pid node1)
if [ "$(stat -L -c %i "/proc/$pid/ns/mnt")" = "$(stat -L -c %i /proc/self/ns/mnt)" ]; then
    echo "--- the nodes share this machine's mounts and /tmp (as in a chroot)"
else echo "--- the nodes have private mount namespaces (NN_CLUSTER_SHARED_MOUNTS=1: shared, as in a chroot)"; fi

# --- helpers (as tests/slurm/common.sh) --------------------------------------------------------
# submit SBATCH-OPTIONS... -- SCRIPT-ARGS...: sbatch launch/nntrain.sbatch from $T, sets JOB.
# With SCRIPT_FILTER set, the script goes through that sed expression (read from stdin then).
# The nodes share this machine's cores but each declares all of them, so Open MPI does not see
# that ranks outnumber cores: mpi_yield_when_idle as launch/mpirun.sh adds on the cluster
# (without it a 2 x 2 checkpoint took 0.9 s instead of 0.02 s).
submit() {
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    if [ -n "${SCRIPT_FILTER:-}" ]; then
        JOB=$(sed "$SCRIPT_FILTER" "$L/nntrain.sbatch" | (cd "$T" && NNTRAIN=$NNTRAIN \
              OMPI_MCA_mpi_yield_when_idle=1 sbatch --parsable "${opts[@]}" /dev/stdin "$@"))
    else
        JOB=$(cd "$T" && NNTRAIN=$NNTRAIN OMPI_MCA_mpi_yield_when_idle=1 \
              sbatch --parsable "${opts[@]}" "$L/nntrain.sbatch" "$@")
    fi || die "sbatch ${opts[*]} failed"
    JOB=${JOB%%;*}
    JOBS+=("$JOB")
    echo "--- job $JOB: sbatch ${opts[*]} nntrain.sbatch $*"
}
# field JOB KEY: one value of `scontrol show job -o`
field() { scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# wait_job JOB SECONDS: until the job is in a final state; sets STATE RESTARTS EXITCODE
wait_job() {
    local t=$SECONDS
    while :; do
        STATE=$(field "$1" JobState)
        case $STATE in
            COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE) break ;;
            "") die "job $1 is not known to slurmctld" ;;
        esac
        [ $((SECONDS - t)) -lt "$2" ] || { scontrol show job "$1"; die "job $1 still $STATE after $2 s"; }
        sleep 0.5
    done
    RESTARTS=$(field "$1" Restarts)
    EXITCODE=$(field "$1" ExitCode)
    echo "--- job $1: $STATE after $((SECONDS - t)) s, nodes $(field "$1" NodeList), restarts $RESTARTS, exit code $EXITCODE"
}
# completed JOB OUT: the job ended COMPLETED with exit code 0:0, else its output is printed
completed() { [ "$STATE" = COMPLETED ] && [ "$EXITCODE" = 0:0 ] || { cat "$2"; die "job $1: $STATE, exit code $EXITCODE"; }; }
# normwise A B WHAT: model B within 1e-5 norm-wise of model A (bitwise said when it is)
normwise() {
    local el nw n
    read -r el nw n <<< "$(maxrel "$1" "$2")"
    if h5diff -q "$1" "$2"; then ok "$3: model.h5 bitwise identical ($n values)"
    elif awk -v x="$nw" 'BEGIN { exit !(x <= 1e-5) }'; then ok "$3: within $nw norm-wise (largest element $el; bound 1e-5)"
    else fail "$3: model.h5 differs by $nw norm-wise (bound 1e-5), largest element $el"; fi
}

"$NNDATA" make-moons 2000 "$T/m.h5" --seed 3 > /dev/null || die "nndata make-moons"
cat > "$T/j.ini" <<INI
[data]
train = $T/m.h5
test = $T/m.h5
[model]
layers = 2, 32, 32, 2
activation = tanh
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 3
batch_size = 32
INI
# 1800 training rows, batch 32: 57 steps per epoch, 171 in all

# --- a) 2 nodes x 2 ranks -----------------------------------------------------------------------
submit --nodes=2 --ntasks-per-node=2 --time=5 -o a-%j.out -- j.ini --verbose --set output.dir="$T/a"
wait_job "$JOB" 90; a=$T/a-$JOB.out; completed "$JOB" "$a"
grep -q "^nntrain.sbatch: running: srun --mpi=pmix " "$a" && grep -q "^nntrain.sbatch: job $JOB (restart 0) on node\[1-2\]: 4 ranks x 1 threads" "$a" ||
    fail "the batch script did not run srun --mpi=pmix on node[1-2]: $(grep '^nntrain.sbatch' "$a")"
grep -q "^nntrain .* | 4 ranks on 2 nodes x 1 BLAS thread " "$a" && ok "sbatch --nodes=2 --ntasks-per-node=2: COMPLETED, banner: $(grep -o '4 ranks on 2 nodes x [^|]*' "$a")" ||
    fail "banner does not say 4 ranks on 2 nodes x 1 BLAS thread: $(grep '^nntrain ' "$a")"
n1=$(grep -c "^rank [0-9]: host node1, local rank [01] of 2, .* 1 BLAS thread" "$a")
n2=$(grep -c "^rank [0-9]: host node2, local rank [01] of 2, .* 1 BLAS thread" "$a")
[ "$n1" = 2 ] && [ "$n2" = 2 ] && ok "--verbose placement: 2 ranks on node1, 2 on node2 (local rank of 2, 1 BLAS thread each)" ||
    fail "placement: $n1 on node1, $n2 on node2: $(grep '^rank ' "$a")"
grep -q "^finished" "$T/a/status" || fail "status: $(cat "$T/a/status")"

# the same configuration on one node: plain mpirun -np 4 (shared memory)
# (exchange = auto is the overlapped allreduce across nodes, zero1 on one: compare layouts with
# the same exchange)
mpi 4 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/one" --set train.exchange=allreduce ||
    die "1 x 4 run (mpirun)"
read -r el nw n <<< "$(maxrel "$T/one/model.h5" "$T/a/model.h5")"
if h5diff -q "$T/one/model.h5" "$T/a/model.h5"; then
    ok "Slurm 2 nodes x 2 ranks vs mpirun 1 node x 4 ranks: model.h5 bitwise identical ($n values, largest relative difference $el)"
elif h5diff -q --relative=1e-5 "$T/one/model.h5" "$T/a/model.h5"; then
    ok "Slurm 2 x 2 vs mpirun 1 x 4: NOT bitwise, within 1e-5 (largest relative difference $el, norm-wise $nw)"
else fail "Slurm 2 x 2 vs mpirun 1 x 4: model.h5 differs beyond 1e-5 (largest relative difference $el, norm-wise $nw)"; fi

# BLAS threads per node from the allocation: 1 task x 2 CPUs on each node
submit --nodes=2 --ntasks-per-node=1 --cpus-per-task="$(nproc)" --time=5 -o t-%j.out -- j.ini \
    --set train.epochs=1 --set output.dir="$T/t"
wait_job "$JOB" 90; completed "$JOB" "$T/t-$JOB.out"
grep -q "^nntrain .* | 2 ranks on 2 nodes x $(nproc) BLAS threads " "$T/t-$JOB.out" &&
    ok "--ntasks-per-node=1 --cpus-per-task=$(nproc): $(grep -o '2 ranks on 2 nodes x [^|]*' "$T/t-$JOB.out")" ||
    fail "banner does not say 2 ranks on 2 nodes x $(nproc) BLAS threads: $(grep '^nntrain ' "$T/t-$JOB.out")"

# stopped after step K on 2 x 2 (not requeued), resumed as a job on 1 node x 3 ranks. More
# tasks than a node's CPUs: --ntasks with --overcommit, without the template's
# --ntasks-per-node line (Slurm refuses --ntasks-per-node=3 on a 2-CPU node)
K=80
NNTRAIN_STOP_AT_STEP=$K NN_REQUEUE=0 submit --nodes=2 --ntasks-per-node=2 --time=5 -o st-%j.out -- j.ini --set output.dir="$T/st"
wait_job "$JOB" 90; completed "$JOB" "$T/st-$JOB.out"
read -r state rest < "$T/st/status"
[ "$state" = stopped ] && [[ "$rest" == "global_step $K checkpoint "* ]] && grep -q "4 ranks on 2 nodes" "$T/st-$JOB.out" &&
    grep -q "stopped unfinished; not requeueing" "$T/st-$JOB.out" &&
    ok "2 x 2 job stopped after step $K: status '$state $rest', not requeued (NN_REQUEUE=0)" ||
    die "stopped job: status '$state $rest': $(cat "$T/st-$JOB.out")"
SCRIPT_FILTER='/^#SBATCH --ntasks-per-node/d' submit --nodes=1 --ntasks=3 --overcommit --time=5 -o rs-%j.out -- \
    j.ini --set output.dir="$T/st"
wait_job "$JOB" 90; rs=$T/rs-$JOB.out; completed "$JOB" "$rs"
read -r state rest < "$T/st/status"
[ "$state" = finished ] && grep -q "^nntrain .* | 3 ranks on 1 node x " "$rs" &&
    grep -q "resuming from $T/st/checkpoints/ckpt-$K.h5.*written by 4 ranks" "$rs" &&
    ok "resumed as a 1-node x 3-rank job on $(field "$JOB" NodeList): finished ($rest)" ||
    fail "resume on 1 x 3: status '$state $rest': $(cat "$rs")"
normwise "$T/a/model.h5" "$T/st/model.h5" "2 x 2 stopped at $K + resumed on 1 x 3 vs uninterrupted 2 x 2"

# --- b) preemption on 2 nodes: USR1 -> checkpoint -> requeue -> resume ---------------------------
"$NNDATA" make-moons 8000 "$T/p.h5" --seed 5 --noise 0.1 > /dev/null || die "nndata make-moons"
cat > "$T/p.ini" <<INI
[data]
train = $T/p.h5
[model]
layers = 2, 64, 64, 2
[train]
epochs = 60
batch_size = 32
INI
# 7200 rows, 225 steps per epoch: 60 epochs are ~5 s of training here, the signal comes after
# the first (as soon as metrics.csv has a row)
submit --nodes=2 --ntasks-per-node=2 --time=5 -o ref-%j.out -- p.ini --set output.dir="$T/ref"
wait_job "$JOB" 120; completed "$JOB" "$T/ref-$JOB.out"
[ "$RESTARTS" = 0 ] && grep -q "^finished" "$T/ref/status" || die "reference job: restarts $RESTARTS, status $(cat "$T/ref/status")"

submit --nodes=2 --ntasks-per-node=2 --time=5 -o pre-%j.out -- p.ini --set output.dir="$T/pre"
pre=$T/pre-$JOB.out
ts=$SECONDS
until [ "$( { wc -l < "$T/pre/metrics.csv"; } 2>/dev/null || echo 0)" -ge 2 ]; do
    [ $((SECONDS - ts)) -lt 60 ] || die "job $JOB: no epoch after 60 s ($(field "$JOB" JobState))"
    sleep 0.1
done
scancel --batch --signal=USR1 "$JOB" || die "scancel --batch --signal=USR1 $JOB"
echo "--- job $JOB: SIGUSR1 to the batch script after epoch 1 ($((SECONDS - ts)) s)"
wait_job "$JOB" 150; completed "$JOB" "$pre"
cat "$pre"
n_sig=$(grep -c "got SIGUSR1" "$pre")
n_stop=$(grep -c "nntrain: stopped early (SIGUSR1): checkpoint" "$pre")
n_requeue=$(grep -c "requeueing job $JOB" "$pre")
n_resume=$(grep -c "resuming from $T/pre/checkpoints/ckpt-.*written by 4 ranks" "$pre")
n_banner=$(grep -c "^nntrain .* | 4 ranks on 2 nodes " "$pre")
[ "$RESTARTS" -ge 1 ] && [ "$n_sig" -ge 1 ] && [ "$n_stop" = "$RESTARTS" ] && [ "$n_requeue" = "$RESTARTS" ] &&
    [ "$n_resume" = "$RESTARTS" ] && [ "$n_banner" = $((RESTARTS + 1)) ] &&
    grep -q "^nntrain.sbatch: job $JOB (restart $RESTARTS) on node\[1-2\]" "$pre" &&
    ok "USR1 -> checkpoint on both nodes -> requeue -> resumed on 2 nodes: COMPLETED, Restarts $RESTARTS (SLURM_RESTART_COUNT $RESTARTS in the last run), $(grep -o 'resuming from [^:]*' "$pre" | head -1 | sed "s|$T/||")" ||
    fail "preemption: restarts $RESTARTS, signals $n_sig, checkpoint-stops $n_stop, requeues $n_requeue, resumes $n_resume, 2-node runs $n_banner"
grep -q "^finished" "$T/pre/status" || fail "preempted job: status $(cat "$T/pre/status")"
normwise "$T/ref/model.h5" "$T/pre/model.h5" "preempted + requeued 2 x 2 job vs uninterrupted 2 x 2 job"

# --- c) a lost node: the job goes on on the node that is left ---------------------------------------
# every nntrain process on node2 SIGKILLed late in a 2 x 2 job: srun ends the step, one line names
# ranks 2, 3 (node2), the step and the newest checkpoint, and the batch script starts the job
# again inside the allocation on node1 x 2 ranks from that checkpoint: COMPLETED, status
# finished, within 1e-5 norm-wise of an uninterrupted 2 x 2 run (late: after a restart on fewer
# ranks sums round differently, and over thousands of Adam steps that difference grows)
"$NNDATA" make-moons 20000 "$T/big.h5" --seed 1 > /dev/null || die "nndata make-moons 20000"
cat > "$T/lost.ini" <<INI
[data]
train = $T/big.h5
[model]
layers = 2, 128, 128, 2
activation = tanh
[optimizer]
name = adam
lr = 0.003
[train]
epochs = 6
batch_size = 32
[checkpoint]
every_steps = 200
INI
# 563 steps per epoch, 3378 in all
NN_HOSTS=node1:2,node2:2 OMPI_MCA_mpi_yield_when_idle=1 "$L/mpirun.sh" 4 "$NNTRAIN" train --config "$T/lost.ini" \
    --quiet --set output.dir="$T/lref" || fail "uninterrupted 2 x 2 mpirun run"
submit --nodes=2 --ntasks-per-node=2 -- "$T/lost.ini" --set output.dir="$T/lost"
lost=$T/nntrain-$JOB.out
ts=$SECONDS
until n=$(newest_ckpt "$T/lost") &&
      [ -n "$n" ] && [ "$n" -ge 3000 ]; do
    [ $((SECONDS - ts)) -lt 90 ] || die "job $JOB: no checkpoint 3000 after 90 s ($(field "$JOB" JobState))"
    sleep 0.05
done
killed=
for p in $(ip netns pids nn-node2); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nntrain ] && kill -KILL "$p" && killed="$killed $p"; done
echo "--- job $JOB: killed node2's nntrain processes ($killed) after checkpoint $n"
wait_job "$JOB" 120; completed "$JOB" "$lost"
grep -v "^epoch" "$lost"
line=$(grep "^nntrain: error:" "$lost")
[ "$(grep -c "^nntrain: error:" "$lost")" = 1 ] && [[ $line == "nntrain: error: ranks 2, 3 (node2) "* ]] &&
    [[ $line =~ step\ [0-9]+ ]] && [[ $line =~ checkpoint\ $T/lost/checkpoints/ckpt-[0-9]+\.h5 ]] &&
    ok "one line: ${line#nntrain: error: }" || fail "lost node2: want one error line naming ranks 2, 3 (node2): '$line'"
grep -q "^nntrain.sbatch: lost ranks on node2 (exit [0-9]*): going on on node1 (restart 1) from $T/lost/checkpoints/ckpt-" "$lost" &&
    grep -q -- "--nodelist=node1 --nodes=1 --ntasks=2 " "$lost" && grep -q "^nntrain .* | 2 ranks on 1 node " "$lost" &&
    grep -q "^resuming from $T/lost/checkpoints/ckpt-.*written by 4 ranks" "$lost" &&
    grep -q "^finished" "$T/lost/status" &&
    ok "the batch script went on on node1 x 2 ranks from the newest checkpoint: COMPLETED, status finished, $RESTARTS requeues" ||
    fail "lost node2: no restart on node1 (status $(cat "$T/lost/status"))"
normwise "$T/lref/model.h5" "$T/lost/model.h5" "2 x 2 job that lost node2 late, finished on node1 x 2 vs uninterrupted 2 x 2"
[ -z "$(for p in $(ip netns pids nn-node2); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nntrain ] && echo $p; done)" ] ||
    fail "nntrain processes left on node2"

# --- down ----------------------------------------------------------------------------------------
JOBS=()
"$L/slurm-down" > /dev/null || fail "slurm-down"
"$L/cluster-down" > /dev/null || fail "cluster-down"
left=$( { pgrep -x slurmd; pgrep -x slurmctld; } | xargs)
[ -z "$left" ] && [ -z "$(ip netns list | grep nn-node)" ] && ok "slurm-down, cluster-down: no slurmd or slurmctld, no node left" ||
    fail "left: pids $left $(ip netns list | grep nn-node)"
finish "all passed in $((SECONDS - t0)) s"
