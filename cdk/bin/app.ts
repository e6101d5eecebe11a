import { App } from 'aws-cdk-lib';
import { serviceImages } from '../lib/images.ts';
import { readSettings } from '../lib/settings.ts';
import { createStacks } from '../lib/stacks.ts';

// `cdk synth` / `cdk deploy` entry (cdk.json: "app": "node bin/app.ts"). Context is read here
// and nowhere else; see lib/settings.ts for the keys and docs/deploy.md for their use.
const app = new App();
const settings = readSettings(app.node);
createStacks(app, settings, serviceImages(settings));
app.synth();
