import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '@vitzoo/core';
import { IMAGE_FILE_PATTERN } from '@vitzoo/pipeline/node';

/** Image arguments with folders expanded to the image files in them (by extension, sorted by name; not recursive). */
export async function expandImageArguments(images: readonly string[], cwd: string): Promise<string[]> {
  const out: string[] = [];
  for (const image of images) {
    const info = await stat(resolve(cwd, image)).catch(() => null);
    if (!info?.isDirectory()) {
      out.push(image);
      continue;
    }
    const names = (await readdir(resolve(cwd, image))).filter((name) => IMAGE_FILE_PATTERN.test(name)).sort();
    if (names.length === 0) throw new InvalidArgumentError('images', `The folder ${image} holds no image files (.png, .jpg, .jpeg, .webp, .gif, .tif, .tiff, .avif, .heic, .heif).`);
    out.push(...names.map((name) => join(image, name)));
  }
  return out;
}
