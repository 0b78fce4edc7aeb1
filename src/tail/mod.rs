//! Log sources: reading bytes and cutting them into lines. (Following files through rotation
//! and the other source kinds live here too, one file per kind.)

pub mod lines;
