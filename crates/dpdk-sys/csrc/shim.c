#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include "shim.h"

uint16_t shim_rte_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t shim_rte_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **m, unsigned n)
{
	return rte_pktmbuf_alloc_bulk(mp, m, n);
}

void shim_rte_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned n)
{
	unsigned i;
	for (i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

int shim_rte_errno(void)
{
	return rte_errno;
}

unsigned shim_rte_lcore_id(void)
{
	return rte_lcore_id();
}

void shim_mempool_add_obj(struct rte_mempool *mp, struct rte_mempool_objhdr *hdr, uint64_t iova)
{
	hdr->mp = mp;
	hdr->iova = iova;
	STAILQ_INSERT_TAIL(&mp->elt_list, hdr, next);
	mp->populated_size++;
}

unsigned shim_sizeof_mbuf(void)
{
	return sizeof(struct rte_mbuf);
}

unsigned shim_sizeof_objhdr(void)
{
	return sizeof(struct rte_mempool_objhdr);
}
