/* Out-of-line wrappers for DPDK's static-inline functions and macros, so that Rust can call
 * them. Burst-level on purpose: one foreign call per burst, never per packet. */
#ifndef PWIRE_DPDK_SHIM_H
#define PWIRE_DPDK_SHIM_H
#include <stdint.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

uint16_t shim_rte_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t shim_rte_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp);
int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **m, unsigned n);
/* rte_pktmbuf_free on each of `n` mbufs (chains included). */
void shim_rte_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned n);
int shim_rte_errno(void);
unsigned shim_rte_lcore_id(void);
/* Links an object header into the mempool's element list (the STAILQ macros are not callable
 * from Rust): what rte_mempool_populate_* does per object, for memory the mempool does not own. */
void shim_mempool_add_obj(struct rte_mempool *mp, struct rte_mempool_objhdr *hdr, uint64_t iova);
/* Size of the structures whose layout the Rust side relies on. */
unsigned shim_sizeof_mbuf(void);
unsigned shim_sizeof_objhdr(void);
#endif
