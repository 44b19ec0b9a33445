// Stands in for onnxruntime-node and @huggingface/tokenizers in the benchmark's bundle of the CLI: the GPU
// machine has no node_modules, and `lower` uses neither. Any property read gives the stub back; calling or
// constructing it throws.
const fail = () => {
  throw new Error('onnxruntime-node / tokenizers are not in the benchmark bundle (bench/compiler/build.sh)');
};
const stub = new Proxy(fail, {
  get: (_target, key) => (key === '__esModule' ? false : key === Symbol.toPrimitive ? () => 'stub' : stub),
  apply: fail,
  construct: fail,
});
module.exports = stub;
