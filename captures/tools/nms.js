// Start node-media-server (v4) on 127.0.0.1:PORT, RTMP only, for captures/generate.sh.
// usage: NODE_PATH=<dir with node_modules> node nms.js PORT WORKDIR
// Stops cleanly on SIGINT/SIGTERM.
const path = require("path");
const NodeMediaServer = require("node-media-server");

const port = Number(process.argv[2] || 19355);
const work = process.argv[3] || ".";
const config = {
  bind: "127.0.0.1",
  notify: { url: "" },
  store: { path: path.join(work, "data") },
  auth: { play: false, publish: false, secret: "corpus-not-a-secret" },
  rtmp: { port },
  http: { port: port + 1000 },
  webadmin: { enable: false },
  record: { auto: false, path: path.join(work, "record") },
};
const nms = new NodeMediaServer(config, path.join(work, "config.json"));
nms.run();
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await nms.stop();
  } finally {
    process.exit(0);
  }
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
