/* Everything pwire's bindings see: DPDK's public headers plus the shim. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_log.h>
#include "shim.h"
