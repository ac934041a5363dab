// One test collection at a time: on a 2-core machine, collections that each start a cluster or several silo
// processes starve each other (and race for free ports) when run side by side.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
