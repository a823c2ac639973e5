#ifndef SNIFF_CPCAP_SHIM_H
#define SNIFF_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
