//! Image stores (upstream `provisioner/store.hpp`). Docker images only:
//! `--image_providers=appc` is refused at start-up.

pub mod docker;
