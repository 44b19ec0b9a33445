// Copies non-TypeScript assets (the ONNX schema) next to the compiled code and marks the CLI executable.
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const copy = [['src/ir/serde/onnx.proto', 'dist/ir/serde/onnx.proto']];
for (const [from, to] of copy) {
  if (fs.existsSync(path.join(root, from))) {
    fs.mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
    fs.copyFileSync(path.join(root, from), path.join(root, to));
  }
}
const cli = path.join(root, 'dist/cli/main.js');
if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
