// Runs an ONNX model with ONNX Runtime (onnxruntime-node) on rows of float32 features:
//   node ort_run.js MODEL.onnx IN.f32 OUT.f32
// IN.f32 holds N x D float32 values (little-endian, row-major; D from the model's input);
// OUT.f32 receives the model's only output, N x K float32. Prints "NAME N K" on stdout.
// NODE_PATH (or a node_modules beside it) must reach onnxruntime-node.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
    const [model, inPath, outPath] = process.argv.slice(2);
    if (!outPath) throw new Error('usage: node ort_run.js MODEL.onnx IN.f32 OUT.f32');
    const session = await ort.InferenceSession.create(model);
    const [inName] = session.inputNames, [outName] = session.outputNames;
    const meta = session.inputMetadata ? session.inputMetadata[0] : null;
    const buf = fs.readFileSync(inPath);
    const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    // the width comes from the model's input shape [N, D]
    const D = meta && meta.shape ? Number(meta.shape[1]) : Number(process.env.ORT_D);
    if (!(D > 0) || x.length % D) throw new Error(`${inPath}: ${x.length} floats are not rows of ${D}`);
    const N = x.length / D;
    const out = await session.run({[inName]: new ort.Tensor('float32', x, [N, D])});
    const y = out[outName];
    fs.writeFileSync(outPath, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
    console.log(`${outName} ${y.dims.join(' ')}`);
}
main().catch((err) => { console.error(`ort_run.js: ${err.message}`); process.exit(1); });
