# mk/mpi.mk: luann.distributed's checks (.ci/run's mpi stage).
#
#   make mpi-test     the 2-rank specs (spec/mpi/*_mpirun.lua) under
#                     mpirun, each rank running busted on the same specs
#   make mpi-nompi    a build without MPI (MPI=0, in $(B)-nompi, so $(B)
#                     is left alone) and a smoke test of it: luann trains,
#                     and luann.distributed says it was built without MPI
#   make mpi-ci       both, and that libluann.so never links libmpi
#
# mpirun runs as root only with --allow-run-as-root; --oversubscribe lets
# 2 ranks share fewer cores. Containers that forbid the cross-memory
# attach of Open MPI's shared-memory transport need
# btl_vader_single_copy_mechanism=none (it copies through a shared buffer
# instead); it is set for every run here.

MPIRUN ?= mpirun --oversubscribe --allow-run-as-root -np 2
export OMPI_MCA_btl_vader_single_copy_mechanism = none

mpi-test: all
	@test -f $(B)/luann_mpi.so || { echo "mpi-test: $(B)/luann_mpi.so not built (install libopenmpi-dev, make MPI=1)" >&2; exit 2; }
	LUANN_BUILD=$(B) $(MPIRUN) -x LUANN_BUILD -x OMPI_MCA_btl_vader_single_copy_mechanism \
	  $(BUSTED) --pattern=_mpirun spec/mpi

mpi-nompi:
	$(MAKE) MPI=0 B=$(B)-nompi all
	@test ! -e $(B)-nompi/luann_mpi.so
	$(B)-nompi/luann spec/support/nompi_smoke.lua

mpi-ci: mpi-test mpi-nompi
	@if ldd $(B)/libluann.so | grep -q libmpi; then \
	  echo "mpi-ci: $(B)/libluann.so links libmpi" >&2; exit 1; fi

.PHONY: mpi-test mpi-nompi mpi-ci
