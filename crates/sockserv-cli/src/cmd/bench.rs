//! `sockserv bench`: a closed-loop echo load generator.
