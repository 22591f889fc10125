import { packageBuild } from '../../tsup.base';

// session-host.mjs is the isolated backend's child process: plain JavaScript, shipped as it is.
export default packageBuild(['src/index.ts', 'src/isolated.ts'], { onSuccess: 'cp src/session-host.mjs dist/session-host.mjs' });
