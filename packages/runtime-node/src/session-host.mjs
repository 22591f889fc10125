// The child process of @vitzoo/runtime-node/isolated: holds onnxruntime-node sessions for its
// parent and answers its messages. Plain JavaScript so the same file runs from the package's
// sources and from its build. If onnxruntime crashes natively, only this process dies; the parent
// reports the signal.
import * as ort from 'onnxruntime-node';

const sessions = new Map();
let nextSession = 1;

function metadata(session) {
  return (session.inputMetadata ?? []).map((input) => ({ name: input.name, type: input.type, shape: input.shape }));
}

async function handle(message) {
  switch (message.type) {
    case 'create': {
      const session = await ort.InferenceSession.create(message.model, message.options ?? {});
      const id = nextSession++;
      sessions.set(id, session);
      return { session: id, inputNames: session.inputNames, outputNames: session.outputNames, inputMetadata: metadata(session) };
    }
    case 'run': {
      const session = sessions.get(message.session);
      if (!session) throw new Error(`no session ${message.session} in this process`);
      const feeds = {};
      for (const [name, tensor] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(tensor.type, tensor.data, tensor.dims);
      const results = await session.run(feeds, message.outputs);
      const outputs = {};
      for (const [name, value] of Object.entries(results)) outputs[name] = { type: value.type, data: value.data, dims: [...value.dims] };
      return { outputs };
    }
    case 'release': {
      const session = sessions.get(message.session);
      sessions.delete(message.session);
      if (session) await session.release();
      return {};
    }
    default:
      throw new Error(`unknown message type ${String(message.type)}`);
  }
}

process.on('message', (message) => {
  handle(message).then(
    (result) => process.send({ id: message.id, ok: true, result }),
    (error) => process.send({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
