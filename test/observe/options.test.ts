import { CommanderError } from 'commander';
import { formatListenAddress, parseListenAddress } from '../../src/observe/address';
import { parseWorkerOptions, UsageError } from '../../src/worker/options';

const argv = (...args: string[]) => ['node', 'main.js', ...args];

describe('listen addresses (--metrics-address, --health-address and their variables)', () => {
  test.each([
    ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464 }],
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['[::]:9464', { host: '::', port: 9464 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
  ])('%s', (text, address) => {
    expect(parseListenAddress(text, 'X')).toEqual(address);
    expect(formatListenAddress(address)).toBe(text);
  });

  test.each([undefined, '', 'off', 'OFF', '  off '])('%j is off', (text) => {
    expect(parseListenAddress(text, 'X')).toBeUndefined();
  });

  test.each(['9464', ':9464', '127.0.0.1', 'host:99999', 'host:port', '::1:80'])(
    '%j is refused, naming the setting',
    (text) => {
      expect(() => parseListenAddress(text, 'METRICS_ADDRESS')).toThrow(
        `METRICS_ADDRESS: "${text}" is not host:port or off, e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::]:9464`,
      );
    },
  );
});

describe('the worker flags: flag, else environment, else default', () => {
  test('defaults: no listeners, a 30 s grace, workflows bundled at start', () => {
    expect(parseWorkerOptions(argv(), {})).toEqual({
      config: undefined,
      metrics: undefined,
      health: undefined,
      shutdownGraceMs: 30_000,
      workflowBundle: undefined,
    });
  });

  test('the environment, as the image and the chart set it', () => {
    expect(
      parseWorkerOptions(argv(), {
        METRICS_ADDRESS: '0.0.0.0:9464',
        HEALTH_ADDRESS: '0.0.0.0:8080',
        SHUTDOWN_GRACE: '45s',
        WORKFLOW_BUNDLE: '/app/dist/workflow-bundle.js',
        DEPLOY_CONFIG: '/etc/gitops-deployer/deploy.config.yaml',
      }),
    ).toEqual({
      config: undefined, // configPath() reads DEPLOY_CONFIG
      metrics: { host: '0.0.0.0', port: 9464 },
      health: { host: '0.0.0.0', port: 8080 },
      shutdownGraceMs: 45_000,
      workflowBundle: '/app/dist/workflow-bundle.js',
    });
  });

  test('flags win over the environment, and `off` turns a listener the environment set off', () => {
    const env = { METRICS_ADDRESS: '0.0.0.0:9464', HEALTH_ADDRESS: '0.0.0.0:8080', SHUTDOWN_GRACE: '45s' };
    expect(
      parseWorkerOptions(
        argv(
          '--config',
          'deploy.yaml',
          '--metrics-address',
          '127.0.0.1:19464',
          '--health-address',
          'off',
          '--shutdown-grace',
          '2m',
          '--workflow-bundle',
          'b.js',
        ),
        env,
      ),
    ).toEqual({
      config: 'deploy.yaml',
      metrics: { host: '127.0.0.1', port: 19464 },
      health: undefined,
      shutdownGraceMs: 120_000,
      workflowBundle: 'b.js',
    });
  });

  test('a bad variable is a usage error naming it', () => {
    expect(() => parseWorkerOptions(argv(), { HEALTH_ADDRESS: '8080' })).toThrow(
      new UsageError('HEALTH_ADDRESS: "8080" is not host:port or off, e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::]:9464'),
    );
    expect(() => parseWorkerOptions(argv(), { SHUTDOWN_GRACE: '30' })).toThrow(
      new UsageError('SHUTDOWN_GRACE: "30" is not a duration with a unit, e.g. 30s or 2m'),
    );
  });

  test('a bad flag is commander`s usage error (the entry point exits 2)', () => {
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(() => parseWorkerOptions(argv('--shutdown-grace', 'soon'), {})).toThrow(CommanderError);
      expect(() => parseWorkerOptions(argv('--metrics-address', '9464'), {})).toThrow(CommanderError);
      expect(write.mock.calls.join('')).toContain('--metrics-address: "9464" is not host:port or off');
    } finally {
      write.mockRestore();
    }
  });
});
