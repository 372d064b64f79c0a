// Makes a reply's files fit a platform's upload limit (Discord bots: 10 MiB by default, a
// value Discord may change, so it is configured): PNGs are re-encoded smaller, then downscaled; GIFs are downscaled frame-wise.
import sharp from 'sharp';
import type { ReplyFile } from '../commands/contract.js';

export interface FittedFiles {
  readonly files: ReplyFile[];
  /** One line per file that was changed or left out, for the message text: never silent. */
  readonly notes: string[];
}

const mib = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`;

async function shrink(file: ReplyFile, scale: number): Promise<Buffer> {
  const animated = file.contentType === 'image/gif';
  const image = sharp(file.data, { animated });
  const meta = await image.metadata();
  const width = Math.max(1, Math.round((meta.width ?? 1) * scale));
  const resized = scale < 1 ? image.resize({ width, kernel: 'nearest' }) : image;
  if (animated) return resized.gif({ effort: 10, colours: 64 }).toBuffer();
  // Palette PNG first: generated pictures (digits, grids) usually survive 256 colours.
  return resized.png({ compressionLevel: 9, palette: true, effort: 10 }).toBuffer();
}

/**
 * Returns the files with their total size at most `limit` bytes: files over their share are
 * re-encoded, then halved in size until they fit; a file that cannot fit is left out. Every
 * change is listed in `notes` so the front end can say so.
 */
export async function fitFiles(files: readonly ReplyFile[], limit: number): Promise<FittedFiles> {
  const total = files.reduce((n, f) => n + f.data.length, 0);
  if (total <= limit) return { files: [...files], notes: [] };
  const notes: string[] = [];
  const out: ReplyFile[] = [];
  // Smallest first, so small files keep their bytes and the big ones share what is left.
  const order = files.map((f, i) => ({ f, i })).sort((a, b) => a.f.data.length - b.f.data.length);
  const fitted = new Map<number, ReplyFile>();
  let used = 0;
  for (let k = 0; k < order.length; k++) {
    const { f, i } = order[k]!;
    const share = (limit - used) / (order.length - k);
    if (f.data.length <= share) {
      fitted.set(i, f);
      used += f.data.length;
      continue;
    }
    const isImage = f.contentType === 'image/png' || f.contentType === 'image/gif';
    let data: Buffer | undefined;
    let scale = 1;
    if (isImage) {
      for (let attempt = 0; attempt < 6; attempt++) {
        try {
          const candidate = await shrink(f, scale);
          if (candidate.length <= share) {
            data = candidate;
            break;
          }
        } catch {
          break; // not decodable by sharp: leave it out below rather than send it over the limit
        }
        scale /= 2;
      }
    }
    if (!data) {
      notes.push(`${f.name} (${mib(f.data.length)}) was left out: over the ${mib(limit)} upload limit`);
      continue;
    }
    notes.push(
      scale < 1
        ? `${f.name} was scaled to ${Math.round(scale * 100)}% to fit the ${mib(limit)} upload limit`
        : `${f.name} was re-encoded to fit the ${mib(limit)} upload limit`,
    );
    const resized: ReplyFile = { name: f.name, contentType: f.contentType, data };
    fitted.set(i, resized);
    used += data.length;
  }
  files.forEach((_, i) => {
    const f = fitted.get(i);
    if (f) out.push(f);
  });
  return { files: out, notes };
}
