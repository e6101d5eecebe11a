import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IgnoreMode } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import type { DeploySettings } from './settings.ts';

export type ServiceName = 'ticketing-service' | 'reservation-service';

export interface ServiceImages {
  readonly ticketing: ecs.ContainerImage;
  readonly reservation: ecs.ContainerImage;
  // True when the images come from a registry the task execution role must be allowed to pull.
  readonly fromRegistry: boolean;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dockerIgnorePath = new URL('../../docker/Dockerfile.dockerignore', import.meta.url);
export const imageUriServicePlaceholder = '{service}';

// The build context's allow-list, shared with `docker build` (BuildKit reads the same file),
// so an asset never carries what an image build would not.
export function dockerIgnorePatterns(): string[] {
  return readFileSync(dockerIgnorePath, 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

// Either an image URI template from context (`imageUri=…/{service}:tag`, built and pushed by CI)
// or docker/Dockerfile built by `cdk deploy` as an asset (needs Docker where cdk runs).
export function serviceImages(settings: DeploySettings): ServiceImages {
  const { imageUri, architecture } = settings.services;
  if (imageUri !== '') {
    const image = (service: ServiceName) => ecs.ContainerImage.fromRegistry(imageUri.replaceAll(imageUriServicePlaceholder, service));
    return { ticketing: image('ticketing-service'), reservation: image('reservation-service'), fromRegistry: true };
  }
  const asset = (service: ServiceName) => ecs.ContainerImage.fromAsset(repoRoot, {
    file: 'docker/Dockerfile',
    buildArgs: { SERVICE: service },
    platform: architecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
    exclude: dockerIgnorePatterns(),
    ignoreMode: IgnoreMode.DOCKER,
  });
  return { ticketing: asset('ticketing-service'), reservation: asset('reservation-service'), fromRegistry: false };
}
