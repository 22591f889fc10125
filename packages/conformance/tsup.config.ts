import { packageBuild } from '../../tsup.base';

export default packageBuild(['src/index.ts', 'src/reference.ts', 'src/sweep.ts', 'src/kernel-contracts.ts']);
