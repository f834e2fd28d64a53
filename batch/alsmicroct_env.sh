# shellcheck shell=bash
# Environment shared by recon.slurm and recon_slices.slurm (sourced, never run).
#
# Chooses the Python interpreter and limits thread pools to the CPUs SLURM gave the task.
# Everything is set through environment variables exported before `sbatch` (sbatch passes
# the submitting shell's environment to the job by default), nothing is hard-coded:
#
#   ALSMICROCT_SETUP=FILE    shell file sourced first (module loads, conda activate, ...)
#                            e.g. on NERSC Perlmutter a file holding
#                              module load python
#                              conda activate alsmicroct
#   ALSMICROCT_VENV=DIR      virtual environment to activate (DIR/bin/activate)
#   ALSMICROCT_PYTHON=EXE    interpreter to run (default: python3 found on PATH after the above)
#   ALSMICROCT_THREADS=N     threads per task (default: SLURM_CPUS_PER_TASK, else 1)
#   HDF5_USE_FILE_LOCKING    default FALSE (Lustre/GPFS scratch file systems need it off)

if [ -n "${ALSMICROCT_SETUP:-}" ]; then
  # shellcheck source=/dev/null
  source "$ALSMICROCT_SETUP"
fi
if [ -n "${ALSMICROCT_VENV:-}" ]; then
  # shellcheck source=/dev/null
  source "$ALSMICROCT_VENV/bin/activate"
fi
ALSMICROCT_PYTHON=${ALSMICROCT_PYTHON:-python3}
if ! "$ALSMICROCT_PYTHON" -c "import alsmicroct" 2>/dev/null; then
  echo "error: $ALSMICROCT_PYTHON cannot import alsmicroct; set ALSMICROCT_PYTHON, ALSMICROCT_VENV or ALSMICROCT_SETUP" >&2
  exit 2
fi
export ALSMICROCT_PYTHON
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}
ALSMICROCT_THREADS=${ALSMICROCT_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export OMP_NUM_THREADS=$ALSMICROCT_THREADS NUMBA_NUM_THREADS=$ALSMICROCT_THREADS
export OPENBLAS_NUM_THREADS=$ALSMICROCT_THREADS MKL_NUM_THREADS=$ALSMICROCT_THREADS
export OMP_PROC_BIND=${OMP_PROC_BIND:-spread} OMP_PLACES=${OMP_PLACES:-threads}

echo "# $(date -u '+%Y-%m-%dT%H:%M:%SZ') job ${SLURM_JOB_ID:-none} array ${SLURM_ARRAY_JOB_ID:-none}_${SLURM_ARRAY_TASK_ID:-none} on $(hostname)"
echo "# python $("$ALSMICROCT_PYTHON" -c 'import sys; print(sys.executable)'), $ALSMICROCT_THREADS thread(s), HDF5_USE_FILE_LOCKING=$HDF5_USE_FILE_LOCKING"
