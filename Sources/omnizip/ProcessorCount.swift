import OmniZipServer

/// Cores this process may use: online CPUs, lowered by a container's cgroup CPU quota (v1 or v2).
func defaultWorkerCount() -> Int { ServerConfiguration.defaultWorkers() }
