// nats-server for the ingest tests: token auth, JetStream, the stream `clicks` (subjects
// `clicks.*`, a de-duplication window of an hour) created with the `nats` client; no
// stream for `orphan`.
import { randomBytes } from "node:crypto";
import { connect, nanos } from "nats";
import { startNats } from "../sink/harness.mjs";

export async function startIngestNats(name) {
  const token = randomBytes(12).toString("hex");
  const server = await startNats({ name, auth: `authorization { token: "${token}" }` });
  try {
    const nc = await connect({ servers: `127.0.0.1:${server.port}`, token });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: "clicks", subjects: ["clicks.*"], storage: "file", num_replicas: 1, duplicate_window: nanos(3_600_000) });
    } finally {
      await nc.close();
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return { url: server.url, port: server.port, token, stop: () => server.stop() };
}
