import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { KubeToolsMissingError, kubeToolsDir, startControlPlane } from './control-plane.ts';

describe('control-plane', () => {
  describe('kubeToolsDir', () => {
    it('is the folder make kube-tools builds: the Kubernetes version and a hash of the tools module', () => {
      const { KUBE_TOOLS_DIR: _, ...env } = process.env;
      const fromMake = execFileSync(
        'make',
        [
          '-s',
          '--no-print-directory',
          '--eval',
          'print-kube-tools: ; @echo $(KUBE_TOOLS_DIR)',
          'print-kube-tools',
        ],
        { encoding: 'utf8', env },
      ).trim();
      const dir = kubeToolsDir(env);
      expect(dir).toMatch(/\/kubernetes-1\.34\.\d+-[0-9a-f]{12}$/);
      expect(fromMake).toBe(dir);
    });

    it('takes KUBE_TOOLS_DIR when set', () => {
      expect(kubeToolsDir({ KUBE_TOOLS_DIR: '/opt/kube' })).toBe('/opt/kube');
    });
  });

  describe('startControlPlane', () => {
    it('says how to build the binaries when they are missing', async () => {
      await expect(startControlPlane({ toolsDir: '/nonexistent' })).rejects.toThrow(KubeToolsMissingError);
      await expect(startControlPlane({ toolsDir: '/nonexistent' })).rejects.toThrow(/make kube-tools/);
    });
  });
});
