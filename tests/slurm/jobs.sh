# A batch job with NP ranks (sbatch launch/nntrain.sbatch) completes: state COMPLETED, no
# restarts, metrics.csv with every epoch, model.h5, status 'finished', NP ranks reported.
# NP=2 also runs the same job through the mpirun launcher (NN_LAUNCHER=mpirun) inside the
# allocation and checks that both give the identical model.h5. More ranks than CPUs use
# --overcommit.  usage: jobs.sh NP
. "$(dirname "$0")/common.sh"
NP=${1:?NP}
EPOCHS=4
slurm_ready
testdir jobs_np$NP
"$NNDATA" make-blobs 3000 blobs.h5 --centers 3 --features 8 --seed 3 >/dev/null || fail nndata
cat >job.ini <<INI
[data]
train = blobs.h5
[model]
layers = 8, 32, 3
[train]
epochs = $EPOCHS
batch_size = 60
[output]
dir = run
INI
opts=(--nodes=1 --ntasks-per-node="$NP" --cpus-per-task=1 --time=5 --job-name="nn-np$NP")
if [ "$NP" -gt "$CPUS" ]; then
    # Slurm refuses --ntasks-per-node above the node's CPUs even with --overcommit; --ntasks
    # with --overcommit is accepted, so drop the template's --ntasks-per-node line.
    opts=(--nodes=1 --ntasks="$NP" --overcommit --cpus-per-task=1 --time=5 --job-name="nn-np$NP")
    export SCRIPT_FILTER='/^#SBATCH --ntasks-per-node/d'
fi

submit "${opts[@]}" -o srun-%j.out -- job.ini
wait_job "$JOB" 120
cat srun-"$JOB".out
[ "$STATE" = COMPLETED ] && [ "$EXITCODE" = 0:0 ] || fail "job $JOB: $STATE, exit code $EXITCODE"
[ "$RESTARTS" = 0 ] || fail "job $JOB restarted $RESTARTS times"
check_run run $EPOCHS
grep -Eq "^nntrain [0-9.]+.* $NP ranks .*x 1 BLAS thread" srun-"$JOB".out || fail "nntrain did not report $NP ranks x 1 BLAS thread"
grep -q "nntrain.sbatch: finished" srun-"$JOB".out || fail "the batch script did not report finished"

if [ "$NP" = 2 ]; then
    NN_LAUNCHER=mpirun submit "${opts[@]}" -o mpirun-%j.out -- job.ini --set output.dir=run-mpirun
    wait_job "$JOB" 120
    cat mpirun-"$JOB".out
    [ "$STATE" = COMPLETED ] && [ "$EXITCODE" = 0:0 ] || fail "mpirun job $JOB: $STATE, exit code $EXITCODE"
    grep -q "running: mpirun" mpirun-"$JOB".out || fail "the mpirun launcher was not used"
    check_run run-mpirun $EPOCHS
    h5diff run/model.h5 run-mpirun/model.h5 || fail "srun and mpirun models differ"
    note "srun and mpirun jobs: identical model.h5"
fi
echo "PASS: $NP-rank Slurm job"
