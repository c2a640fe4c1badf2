"""How the pipeline runs itself: the jobs, the nightly schedule and the sensor on protocol phases."""
