import { OverlayError, readOverlayImages, setOverlayImages } from '../../src/plan/overlay';

const OVERLAY = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# Production overlay: image tags are written by gitops-deployer
namespace: yt-summarizer

resources:
  - ../../base   # shared manifests

images:
  - name: yt-summarizer-api
    newName: acrytsummprd.azurecr.io/yt-summarizer-api
    newTag: sha-e43f28a  # ← CI-BUILT IMAGE (not rebuilt)
  # workers follow the api
  - name: yt-summarizer-workers
    newName: "acrytsummprd.azurecr.io/yt-summarizer-workers"
    newTag: 'sha-e43f28a'    # quoted on purpose
`;

const update = (tag: string, host = 'acrytsummprd.azurecr.io') => [
  { name: 'yt-summarizer-api', newName: `${host}/yt-summarizer-api`, newTag: tag },
  { name: 'yt-summarizer-workers', newName: `${host}/yt-summarizer-workers`, newTag: tag },
];

describe('overlay edit', () => {
  test('reads the images', () => {
    expect(readOverlayImages(OVERLAY)).toEqual([
      { name: 'yt-summarizer-api', newName: 'acrytsummprd.azurecr.io/yt-summarizer-api', newTag: 'sha-e43f28a' },
      {
        name: 'yt-summarizer-workers',
        newName: 'acrytsummprd.azurecr.io/yt-summarizer-workers',
        newTag: 'sha-e43f28a',
      },
    ]);
  });

  test('changes only the tag values, byte for byte: comments, spacing and quotes stay', () => {
    const { text, changed } = setOverlayImages(OVERLAY, update('sha-1234567'));
    expect(changed).toBe(true);
    const expected = OVERLAY.replace('newTag: sha-e43f28a  #', 'newTag: sha-1234567  #').replace(
      "newTag: 'sha-e43f28a'",
      "newTag: 'sha-1234567'",
    );
    expect(text).toBe(expected);
  });

  test('an overlay that already holds the tag is unchanged', () => {
    expect(setOverlayImages(OVERLAY, update('sha-e43f28a'))).toEqual({ text: OVERLAY, changed: false });
  });

  test('newName follows the registry, in the same edit', () => {
    const { text } = setOverlayImages(OVERLAY, update('sha-1234567', 'localhost:5443'));
    expect(text).toContain('    newName: localhost:5443/yt-summarizer-api\n');
    expect(text).toContain('    newName: "localhost:5443/yt-summarizer-workers"\n');
    expect(text.split('\n').length).toBe(OVERLAY.split('\n').length);
  });

  test('missing newTag/newName are inserted under name with its indentation', () => {
    const bare =
      'images:\n  - name: yt-summarizer-api  # api\n  - name: yt-summarizer-workers\n    newTag: sha-0000000\n';
    const { text } = setOverlayImages(bare, update('sha-1234567'));
    expect(text).toBe(
      'images:\n  - name: yt-summarizer-api  # api\n    newName: acrytsummprd.azurecr.io/yt-summarizer-api\n    newTag: sha-1234567\n' +
        '  - name: yt-summarizer-workers\n    newName: acrytsummprd.azurecr.io/yt-summarizer-workers\n    newTag: sha-1234567\n',
    );
  });

  test('CRLF files keep CRLF', () => {
    const crlf = OVERLAY.replace(/\n/g, '\r\n');
    const { text } = setOverlayImages(crlf, update('sha-1234567'));
    expect(text).toBe(setOverlayImages(OVERLAY, update('sha-1234567')).text.replace(/\n/g, '\r\n'));
  });

  test('problems a person must fix are OverlayErrors that say what to do', () => {
    expect(() => setOverlayImages('kind: Kustomization\n', update('sha-1234567'))).toThrow(OverlayError);
    expect(() => setOverlayImages('images:\n  - name: other\n', update('sha-1234567'))).toThrow(
      /no images entry named "yt-summarizer-api"/,
    );
    expect(() => setOverlayImages('images: [\n', update('sha-1234567'))).toThrow(/not valid YAML/);
  });
});
