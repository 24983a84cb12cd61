// The kubeconfig a CLI command reads the cluster with, as kubectl finds it: the --kubeconfig file,
// else $KUBECONFIG, ~/.kube/config, or the pod's service account.
import { KubeConfig } from "@kubernetes/client-node";

/** Throws an Error with a sentence when the file cannot be read or names no cluster. */
export function userKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (path === undefined) kubeConfig.loadFromDefault();
    else kubeConfig.loadFromFile(path);
  } catch (error) {
    throw new Error(`cannot load the kubeconfig: ${(error as Error).message}`, { cause: error });
  }
  if (kubeConfig.getCurrentCluster() === null)
    throw new Error("the kubeconfig names no cluster: pass --kubeconfig or set KUBECONFIG");
  return kubeConfig;
}
