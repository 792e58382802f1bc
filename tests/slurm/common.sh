# Shared by the Slurm tests (sourced). Environment from CTest: NNTRAIN, NNDATA, SRC_DIR, WORK.
# Starts the single-node Slurm with launch/slurm-up (a no-op when it is up); when Slurm cannot
# be started here the test exits 77 (CTest: skipped) after printing why.
set -uo pipefail
: "${NNTRAIN:?}" "${NNDATA:?}" "${SRC_DIR:?}" "${WORK:?}"
SBATCH_SCRIPT=$SRC_DIR/launch/nntrain.sbatch
JOBS=()

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }

# cancel whatever this test submitted and did not see finish
cleanup() { [ ${#JOBS[@]} -gt 0 ] && scancel "${JOBS[@]}" 2>/dev/null; return 0; }
trap cleanup EXIT

slurm_ready() {
    local out rc
    out=$("$SRC_DIR/launch/slurm-up" 2>&1); rc=$?
    if [ $rc = 77 ]; then
        echo "SKIP: $(echo "$out" | grep 'slurm-up:' | tail -1)"
        exit 77
    fi
    [ $rc = 0 ] || { echo "$out"; fail "launch/slurm-up exited $rc"; }
    CPUS=$(sinfo -h -o %c | head -1)
}

# testdir NAME: a fresh working directory
testdir() { rm -rf "${WORK:?}/$1"; mkdir -p "$WORK/$1" && cd "$WORK/$1" || fail "cannot make $WORK/$1"; }

# submit SBATCH-OPTIONS... -- SCRIPT-ARGS... : sbatch launch/nntrain.sbatch, sets JOB.
# With SCRIPT_FILTER set, the script goes through that sed expression first (sbatch reads it
# from standard input then).
submit() {
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    if [ -n "${SCRIPT_FILTER:-}" ]; then
        JOB=$(sed "$SCRIPT_FILTER" "$SBATCH_SCRIPT" |
              NNTRAIN=$NNTRAIN sbatch --parsable --chdir="$PWD" "${opts[@]}" /dev/stdin "$@")
    else
        JOB=$(NNTRAIN=$NNTRAIN sbatch --parsable --chdir="$PWD" "${opts[@]}" "$SBATCH_SCRIPT" "$@")
    fi || fail "sbatch failed"
    JOB=${JOB%%;*}
    JOBS+=("$JOB")
    note "submitted job $JOB: sbatch ${opts[*]} nntrain.sbatch $*"
}

# field JOB KEY: one value of `scontrol show job -o`
field() { scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# wait_job JOB SECONDS: poll until the job is in a final state; sets STATE RESTARTS EXITCODE.
# (No slurmdbd, so no sacct: the job stays in `scontrol show job` for MinJobAge = 900 s.)
wait_job() {
    local job=$1 limit=$2 t0=$SECONDS seen=
    while :; do
        STATE=$(field "$job" JobState)
        case $STATE in
            COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE) break ;;
            "") fail "job $job is not known to slurmctld" ;;
        esac
        [ "$STATE" != "$seen" ] && { note "job $job: $STATE after $((SECONDS - t0)) s"; seen=$STATE; }
        [ $((SECONDS - t0)) -lt "$limit" ] || { scontrol show job "$job"; fail "job $job still $STATE after $limit s"; }
        sleep 1
    done
    RESTARTS=$(field "$job" Restarts)
    EXITCODE=$(field "$job" ExitCode)
    note "job $job: $STATE after $((SECONDS - t0)) s, restarts $RESTARTS, exit code $EXITCODE"
}

# check_run DIR EPOCHS: metrics.csv with EPOCHS rows ending at epoch EPOCHS, model.h5,
# status 'finished'
check_run() {
    local d=$1 e=$2 rows last
    [ -f "$d/metrics.csv" ] || fail "no $d/metrics.csv"
    rows=$(($(wc -l <"$d/metrics.csv") - 1))
    last=$(tail -1 "$d/metrics.csv" | cut -d, -f1)
    [ "$rows" = "$e" ] && [ "$last" = "$e" ] || fail "$d/metrics.csv: $rows rows, last epoch $last; want $e"
    [ -f "$d/model.h5" ] || fail "no $d/model.h5"
    grep -q '^finished' "$d/status" || fail "$d/status: '$(cat "$d/status" 2>/dev/null)', want finished"
}
