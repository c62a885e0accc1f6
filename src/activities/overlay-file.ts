import { OverlayError, readOverlayImages, type OverlayImage } from '../plan/overlay';
import { permanent } from './failures';

/**
 * The overlay's images as a step reads them now: a file broken by hand is a permanent failure
 * naming the file and the line (retrying cannot fix it), never a retry loop.
 */
export function overlayImages(text: string, where: string): OverlayImage[] {
  try {
    return readOverlayImages(text);
  } catch (err) {
    if (err instanceof OverlayError)
      throw permanent(
        `${where}: ${err.message}. Fix the file on the branch; the deployer only ever changes image tags in it.`,
        'OverlayError',
      );
    throw err;
  }
}

/** The images of an old version of the overlay; one that cannot be read names none (history is read, not acted on). */
export function overlayImagesOrNone(text: string): OverlayImage[] {
  try {
    return readOverlayImages(text);
  } catch (err) {
    if (err instanceof OverlayError) return [];
    throw err;
  }
}
