# The time-limit path: a 2-rank job with --time=1 --signal=B:USR1@10 gets SIGUSR1 before its
# limit; nntrain checkpoints and stops, the batch script requeues the job, the job resumes
# ('resuming from') and finishes. Its model.h5 must equal (h5diff, bit-identical: same rank
# count) that of an uninterrupted job with the same configuration.
#
# Slurm checks time limits about every 30 s and sends the warning up to ~60 s early (here it
# arrived 20-50 s into a 1-minute job), so the training is sized to > 50 s (TARGET s by a
# short calibration job, which tends to underestimate: 55-80 s in practice), so that the first
# run is always interrupted. A restarted run may be signalled again: 1-3 restarts are normal.
. "$(dirname "$0")/common.sh"
TARGET=${TARGET:-58}
slurm_ready
testdir requeue
"$NNDATA" make-moons 40000 moons.h5 --noise 0.1 --seed 5 >/dev/null || fail nndata
cat >job.ini <<INI
[data]
train = moons.h5
[model]
layers = 2, 256, 256, 256, 2
[train]
epochs = 2
batch_size = 64
[output]
dir = calib
INI
opts=(--nodes=1 --ntasks-per-node=2 --cpus-per-task=1)
[ "$CPUS" -lt 2 ] && opts+=(--overcommit)

# 1. calibration: seconds per epoch
submit "${opts[@]}" --time=5 -o calib-%j.out -- job.ini
wait_job "$JOB" 60
[ "$STATE" = COMPLETED ] || { cat calib-"$JOB".out; fail "calibration job $JOB: $STATE"; }
per_epoch=$(tail -1 calib/metrics.csv | awk -F, '{print $7 / $1}')
EPOCHS=$(awk -v t="$TARGET" -v p="$per_epoch" 'BEGIN { e = int(t / p) + 1; if (e < 3) e = 3; if (e > 2000) e = 2000; print e }')
note "$per_epoch s per epoch: $EPOCHS epochs for ~$TARGET s of training"
set_args=(--set train.epochs="$EPOCHS")

# 2. the uninterrupted reference
submit "${opts[@]}" --time=10 -o ref-%j.out -- job.ini "${set_args[@]}" --set output.dir=ref
wait_job "$JOB" 200
[ "$STATE" = COMPLETED ] && [ "$RESTARTS" = 0 ] || { cat ref-"$JOB".out; fail "reference job $JOB: $STATE, restarts $RESTARTS"; }
check_run ref "$EPOCHS"

# 3. the same training under a 1-minute limit
submit "${opts[@]}" --time=1 --signal=B:USR1@10 -o limited-%j.out -- job.ini "${set_args[@]}" --set output.dir=limited
wait_job "$JOB" 400
out=limited-$JOB.out
cat "$out"
[ "$STATE" = COMPLETED ] && [ "$EXITCODE" = 0:0 ] || fail "job $JOB: $STATE, exit code $EXITCODE"
[ "$RESTARTS" -ge 1 ] || fail "job $JOB was never requeued (restarts $RESTARTS)"
n_sig=$(grep -c "got SIGUSR1" "$out")
n_stop=$(grep -c "nntrain: stopped early (" "$out")
n_requeue=$(grep -c "requeueing job $JOB" "$out")
n_resume=$(grep -c "resuming from .*ckpt-" "$out")
note "signals $n_sig, checkpoint-stops $n_stop, requeues $n_requeue, resumes $n_resume, restarts $RESTARTS"
[ "$n_stop" = "$RESTARTS" ] || fail "$n_stop checkpoint-stops for $RESTARTS restarts"
[ "$n_sig" -ge "$RESTARTS" ] || fail "$n_sig SIGUSR1s to the batch script for $RESTARTS restarts"
[ "$n_requeue" = "$RESTARTS" ] || fail "$n_requeue requeues by the script but $RESTARTS restarts"
[ "$n_resume" = "$RESTARTS" ] || fail "$n_resume resumes for $RESTARTS restarts"
[ "$(grep -c '^nntrain.sbatch: job .* (restart ' "$out")" = $((RESTARTS + 1)) ] || fail "not $((RESTARTS + 1)) runs in $out"
grep -q "nntrain.sbatch: finished" "$out" || fail "the last run did not finish"
check_run limited "$EPOCHS"
h5diff ref/model.h5 limited/model.h5 || fail "the requeued job's model.h5 differs from the uninterrupted one"
note "requeued job: model.h5 bit-identical to the uninterrupted run"
echo "PASS: time limit -> checkpoint -> requeue -> resume -> identical model ($RESTARTS restarts)"
