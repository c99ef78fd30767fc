// Runs the sample build in this process (another time zone, umask and directory) and prints
// the manifest digest: the reproducibility test compares it with its own.
import { sampleBuild } from './sample-build.js';

const root = process.argv[2];
if (!root) throw new Error('usage: sample-build-main.js ROOT');
const { image } = await sampleBuild(root);
process.stdout.write(`${image.digest}\n`);
