/* `nntrain plot RUN_DIR [--out FILE.png] [--size WxH]`: learning curves of a run
 * (RUN_DIR/metrics.csv) as a PNG drawn by gnuplot. Needs no MPI: main() calls it before
 * MPI_Init. */
#ifndef NT_PLOT_H
#define NT_PLOT_H

/* argv[0] = "plot" (the command), then its arguments. Returns the exit status: 0 ok, 1 runtime failure
 * (gnuplot missing or failing, output not writable), 2 usage, 3 bad input (missing or
 * malformed metrics.csv, no epochs yet); errors are one "nntrain: error: ..." line. */
int nt_plot_main(int argc, char **argv);

#endif
