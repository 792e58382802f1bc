/* `nntrain export MODEL.h5 OUT.onnx [--probabilities]`: a model.h5 or checkpoint as a
 * standard ONNX model (opset NT_ONNX_OPSET), encoded with protobuf-c. No MPI. */
#ifndef NT_EXPORT_H
#define NT_EXPORT_H

/* ONNX opset and IR version of every export: opset 13 is IR version 7 (ONNX 1.8), read by
 * Debian 12's python3-onnx (1.12) and by ONNX Runtime. */
#define NT_ONNX_OPSET 13
#define NT_ONNX_IR_VERSION 7

/* The command: argv[0] is "export". Returns the exit code (NT_EXIT_*), after printing one
 * `nntrain: error:` line on failure. */
int nt_export_main(int argc, char **argv);

#endif
