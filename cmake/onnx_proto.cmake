# Copies the ONNX schema IN to OUT for protoc-c (run at build time: cmake -DIN=... -DOUT=... -P).
# Debian's python3-onnx ships onnx.proto already expanded (proto2, package onnx); the
# templates in ONNX's source tree (onnx.in.proto) say ONNX_NAMESPACE instead, so that name is
# replaced by onnx. The C names protoc-c derives are then Onnx__ModelProto and so on.
file(READ "${IN}" text)
string(REPLACE "ONNX_NAMESPACE" "onnx" text "${text}")
if(NOT text MATCHES "package onnx;")
  message(FATAL_ERROR "${IN}: not the ONNX schema (no 'package onnx;')")
endif()
file(WRITE "${OUT}" "${text}")
